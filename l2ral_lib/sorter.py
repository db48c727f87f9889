"""Differentiable sorters after SoDeep (Engilberge et al., CVPR 2019): a recurrent net pretrained on
synthetic vectors to output their normalised ranks, then frozen and used to turn predicted losses
into ranks that a gradient can pass through (paper Sec. III-B, Fig. 3).

Two kinds, each shipped per list length in `sorter_weights/<kind>-<n>.pt` with a training record
(`.json`) beside it:
- `sodeep` (the paper's): SoDeep's bidirectional GRU sorter `gru_constrained`, its synthetic
  distributions and its training recipe (technicolor-research/sodeep model.py, dataset.py, train.py;
  the paper trains "according to the code of [40]" for 400 epochs, Sec. IV). Training is resumable
  (`<kind>-<n>.ckpt` beside the weights) because the full recipe takes hours to days on a CPU.
- `gru`: a named alternative, the project's scale-invariant BiGRU + MLP on standardised features,
  trained on eight wider families (heavy tails, loss-like, near ties).

Conventions: `exact_ranks(x)` gives ascending normalised ranks in [1/n, 1]; the sorters approximate
them. Both kinds see their rows through `scale_rows`, which bounds the gradient w.r.t. the input
(see there).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.stats
import torch
from torch import nn
from torch.nn import functional as F

from .frozen_gru import frozen_gru

WEIGHTS_DIR = Path(__file__).resolve().parent / "sorter_weights"
KINDS = ("sodeep", "gru")
DEFAULT_KIND = "sodeep"  # the paper's sorter; config.Params.sorter_kind names the one a study uses
# validation vectors come from an odd seed, training streams from even ones: never the same vectors
VALIDATION_SEED = 1


def exact_ranks(x: torch.Tensor) -> torch.Tensor:
    """(..., n) -> float32 (..., n) ascending normalised ranks: smallest -> 1/n, largest -> 1.
    Ties are broken by position (stable argsort of a stable argsort)."""
    n = x.shape[-1]
    order = torch.argsort(x, dim=-1, stable=True)
    return (torch.argsort(order, dim=-1, stable=True).to(torch.float32) + 1) / n


# ---------------------------------------------------------------- input scaling: the gradient bound

def scale_rows(x: torch.Tensor, floor: float) -> torch.Tensor:
    """(B, n) -> (B, n): each row centred and divided by max(sd, floor).

    This bounds the gradient w.r.t. x across scales. Rows with sd >= floor come out with unit sd, so
    the sorter is invariant to x -> a * x + b there and its gradient falls as 1 / sd, as any
    scale-free function's must, and no faster (no saturation). Rows narrower than the floor are
    magnified by 1 / floor only, so the gradient levels off instead of growing as 1 / sd (a collapsed
    head would get exploding updates); each kind sets its floor (its `input_floor`). The variance is
    clamped before the square root, so a constant row has a finite (zero) gradient."""
    centred = x - x.mean(-1, keepdim=True)
    return centred / centred.pow(2).mean(-1, keepdim=True).clamp(min=floor * floor).sqrt()


# ---------------------------------------------------------------- the sorters

class SoDeepGRU(nn.Module):
    """SoDeep's `gru_constrained` (technicolor-research/sodeep model.py): x -> sigmoid(x / 2 + 1) ->
    6-layer bidirectional GRU(1 -> 32) -> sum of both directions' 64 states per position -> sigmoid.
    (B, n) -> (B, n) approximate `exact_ranks`. The L2R-AL paper names "the bidirectional GRU
    sorter" (Sec. IV); of SoDeep's GRU models this is the one its README trains (`-m gruc`).

    One addition, declared: the rows pass `scale_rows` with floor 1 first, in training as in use.
    SoDeep's synthetic rows have sd up to about 1 (its uniform and normal draws), where this only
    centres them; wider rows (predicted losses come at any scale) are shrunk to sd 1 instead of
    saturating the input sigmoid, whose gradient would vanish exponentially; narrower rows are
    never magnified, so below sd 1 the net ranks as SoDeep's does (to about sd 1e-2, sorter notebook)."""

    def __init__(self, hidden: int = 32, layers: int = 6, input_floor: float = 1.0):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers, "input_floor": input_floor}
        self.rnn = nn.GRU(1, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = scale_rows(x.float(), self.config["input_floor"])
        states = frozen_gru(self.rnn, torch.sigmoid(u.unsqueeze(-1) / 2 + 1))  # (B, n, 2 * hidden)
        return torch.sigmoid(states.sum(-1))


def _robust_standardise(z: torch.Tensor) -> torch.Tensor:
    """(B, n) standardised rows -> (B, n) centred on the median, scaled by the median absolute
    deviation. One outlier squeezes the bulk of a mean/sd-standardised row into a sliver; the
    median and MAD ignore it, so the bulk keeps a resolution the GRU can tell apart. The 1e-2 floor
    (in sd units) keeps rows with more than half their values tied finite."""
    centred = z - z.median(-1, keepdim=True).values
    return centred / (centred.abs().median(-1, keepdim=True).values + 1e-2)


class GRUSorter(nn.Module):
    """The `gru` kind: (B, n) scores -> (B, n) approximate `exact_ranks`.

    Per position the GRU reads monotone transforms of that value alone (the ranking itself is
    learned): the standardised value z, tanh(z), and asinh of the robust-standardised value (a
    log-like squash that keeps heavy tails ordered without letting them dominate). A multi-layer
    bidirectional GRU then sees the whole list; a small MLP per position maps [both directions'
    states, the features] to the predicted normalised rank. Its shipped weights were trained on rows
    standardised at any sd; the input floor (`scale_rows`) came later, at 0.1: rows narrower than
    that reach it compressed, and the robust feature, which rescales by the median absolute
    deviation, keeps them ranked (sorter notebook). A floor of 1, as the sodeep kind's, would cost
    the length-4 weights more (project uniform family: Spearman 0.94 with floor 1, 0.97 with 0.1,
    1.00 without a floor; 300 held-out rows each)."""

    n_features = 3

    def __init__(self, hidden: int = 64, layers: int = 2, readout: int = 64, input_floor: float = 0.1):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers, "readout": readout, "input_floor": input_floor}
        self.gru = nn.GRU(self.n_features, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.readout = nn.Sequential(nn.Linear(2 * hidden + self.n_features, readout), nn.ReLU(),
                                     nn.Linear(readout, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n) -> (B, n, 3), invariant to x -> a * x + b for a > 0 while the row's sd stays >= the floor."""
        z = scale_rows(x.float(), self.config["input_floor"])
        return torch.stack([z, torch.tanh(z), torch.asinh(_robust_standardise(z))], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        states = frozen_gru(self.gru, features)  # (B, n, 2 * hidden)
        return self.readout(torch.cat([states, features], -1)).squeeze(-1)


class FrozenSorter(nn.Module):
    """A pretrained sorter for lists of exactly `seq_len` items; parameters frozen, always in eval mode.
    (B, seq_len) -> (B, seq_len); a 1-d input (seq_len,) gives (seq_len,)."""

    def __init__(self, net: nn.Module, seq_len: int):
        super().__init__()
        self.net, self.seq_len = net, seq_len
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # stays in eval mode when the model holding it calls .train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.seq_len:
            raise ValueError(f"this sorter ranks lists of length {self.seq_len}, got length {x.shape[-1]}")
        lead = x.shape[:-1]
        # cuDNN's GRU backward refuses eval mode; cuDNN off computes the same function and still
        # gives the input its gradient
        with torch.backends.cudnn.flags(enabled=False):
            return self.net(x.reshape(-1, self.seq_len)).reshape(*lead, self.seq_len)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown sorter kind '{kind}'; known: {', '.join(KINDS)}")


def build_sorter(kind: str = DEFAULT_KIND, **config) -> nn.Module:
    """An untrained sorter network of `kind`."""
    _check_kind(kind)
    return SoDeepGRU(**config) if kind == "sodeep" else GRUSorter(**config)


# ---------------------------------------------------------------- SoDeep's synthetic distributions
# technicolor-research/sodeep dataset.py `get_rand_seq`: each vector draws one of ten types,
# `randint(0, 9)`. Types 0 and 1 are both uniform on [-1, 1), as is 7 (two uniform segments); 5 and 6
# are the same too. The names below are per type index; repeated names keep SoDeep's weights.
SODEEP_TYPES = ("uniform", "uniform", "normal", "spaced_sorted", "spaced_shuffled", "uniform_then_normal",
                "uniform_then_normal", "uniform", "spaced_shuffled_then_uniform", "grid")
SODEEP_FAMILIES = tuple(dict.fromkeys(SODEEP_TYPES))  # the distinct ones, for quality tables


def sodeep_batch(types: torch.Tensor, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """(B,) type indices into SODEEP_TYPES -> (B, seq_len) float32 vectors, as `get_rand_seq`:
    0, 1, 7  uniform on [-1, 1)
    2        standard normal
    3        a, b ~ U[0, 1): a + (b - a) k / n, k = 0..n-1 (np.arange(a, b, (b - a) / n)), in order
    4        the same, shuffled
    5, 6     the first `split` ~ randint(1, n) values uniform on [-1, 1), the rest normal
    8        the first `split` values an evenly spaced a..b run of length split, shuffled; the rest uniform
    9        the fixed grid -1 + 2k / n, in order
    Every candidate is drawn for every row (cheap next to the GRU) and each row keeps its type's."""
    batch, n = types.shape[0], seq_len
    k = torch.arange(n, dtype=torch.float64)
    uniform = torch.rand(batch, n, generator=generator) * 2 - 1
    normal = torch.randn(batch, n, generator=generator)
    a, b = torch.rand(batch, 1, generator=generator, dtype=torch.float64), torch.rand(batch, 1, generator=generator,
                                                                                   dtype=torch.float64)
    spaced = (a + (b - a) * k / n).float()
    shuffle = torch.argsort(torch.rand(batch, n, generator=generator), dim=1)
    split = torch.randint(1, n + 1, (batch, 1), generator=generator)
    prefix = torch.arange(n) < split
    # shuffle within the prefix only: prefix positions get keys in [0, 1), the rest in [2, 3)
    prefix_shuffle = torch.argsort(torch.rand(batch, n, generator=generator) + 2 * ~prefix, dim=1)
    run = (a + (b - a) * k / split).float().gather(1, prefix_shuffle)
    candidates = torch.stack([
        uniform, uniform, normal, spaced, spaced.gather(1, shuffle), torch.where(prefix, uniform, normal),
        torch.where(prefix, uniform, normal), uniform, torch.where(prefix, run, uniform),
        (-1 + 2 * k / n).float().expand(batch, n)])
    return candidates[types, torch.arange(batch)]


def sodeep_family_batch(family: str, batch: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, seq_len) vectors of one distinct SoDeep family."""
    return sodeep_batch(torch.full((batch,), SODEEP_TYPES.index(family)), seq_len, generator)


# ---------------------------------------------------------------- the project's synthetic families (gru kind)
# Each family draws (B, n) raw vectors; `synthetic_batch` then applies a random positive scale and
# offset per vector. Rates and scales vary per vector (shape (B, 1)) so one family spans many shapes.

def _per_row(shape, g, low, high):
    """(B, 1) uniform draws in [low, high)."""
    return low + (high - low) * torch.rand(shape[0], 1, generator=g)


def _shuffle(values: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.gather(values, 1, torch.argsort(torch.rand(values.shape, generator=g), dim=1))


def _evenly_spaced(shape, g):
    start, stop = torch.randn(shape[0], 1, generator=g), torch.randn(shape[0], 1, generator=g)
    steps = torch.linspace(0, 1, shape[1]).expand(shape)
    return _shuffle(start + (stop - start) * steps, g)


def _shuffled_range(shape, g):
    start = torch.randint(-1000, 1000, (shape[0], 1), generator=g)
    return _shuffle((start + torch.arange(shape[1])).float(), g)


def _mixture(shape, g):
    """Two normal components with random weights, centres and widths (often bimodal)."""
    pick = torch.rand(shape, generator=g) < _per_row(shape, g, 0.05, 0.95)
    a = torch.randn(shape, generator=g) * _per_row(shape, g, 0.1, 1.0)
    b = torch.randn(shape, generator=g) * _per_row(shape, g, 0.1, 1.0) + 4 * torch.randn(shape[0], 1, generator=g)
    return torch.where(pick, a, b)


def _heavy_tailed(shape, g):
    """Cauchy, log-normal or Pareto, one choice per vector."""
    u = torch.rand(shape, generator=g).clamp(1e-6, 1 - 1e-6)
    cauchy = torch.tan(math.pi * (u - 0.5))
    lognormal = torch.exp(torch.randn(shape, generator=g) * _per_row(shape, g, 1.0, 2.5))
    pareto = u.pow(-1 / _per_row(shape, g, 0.5, 2.0))
    which = torch.randint(0, 3, (shape[0], 1), generator=g)
    return torch.where(which == 0, cauchy, torch.where(which == 1, lognormal, pareto))


def _loss_like(shape, g):
    """Positive, skewed values like per-sample cross-entropy losses: log-normal or gamma bulk
    (many small values), a few large outliers."""
    lognormal = torch.exp(torch.randn(shape, generator=g) * _per_row(shape, g, 0.3, 2.0) - 2)
    concentration = _per_row(shape, g, 0.3, 3.0).expand(shape).contiguous()
    gamma = torch._standard_gamma(concentration, generator=g)
    base = torch.where(torch.rand(shape[0], 1, generator=g) < 0.5, lognormal, gamma)
    outliers = torch.rand(shape, generator=g) < _per_row(shape, g, 0.0, 0.1)
    return torch.where(outliers, base * (5 + 45 * torch.rand(shape, generator=g)), base)


def _near_ties(shape, g):
    """2-8 distinct levels, each item jittered by 1e-3 to 1e-1 of the level spacing: the sorter must
    tell apart values far closer together than the row's spread."""
    levels = torch.randint(2, 9, (shape[0], 1), generator=g)
    level = torch.floor(torch.rand(shape, generator=g) * levels)
    jitter = torch.rand(shape, generator=g) * torch.pow(10.0, _per_row(shape, g, -3.0, -1.0))
    return level + jitter


FAMILIES = {
    "uniform": lambda shape, g: torch.rand(shape, generator=g),
    "normal": lambda shape, g: torch.randn(shape, generator=g),
    "evenly_spaced": _evenly_spaced,
    "shuffled_range": _shuffled_range,
    "mixture": _mixture,
    "heavy_tailed": _heavy_tailed,
    "loss_like": _loss_like,
    "near_ties": _near_ties,
}


def synthetic_batch(family: str, batch: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, seq_len) float32 vectors of one family, each at a random positive scale and offset.
    The offset is a few spreads at most, so float32 still resolves the family's structure."""
    values = FAMILIES[family]((batch, seq_len), generator)
    scale = torch.exp(torch.randn(batch, 1, generator=generator) * 2)
    offset = torch.randn(batch, 1, generator=generator) * 3 * values.std(-1, keepdim=True)
    return (values + offset) * scale


def mixed_batch(batch: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, seq_len): an equal share of every family, in family order."""
    per = math.ceil(batch / len(FAMILIES))
    return torch.cat([synthetic_batch(name, per, seq_len, generator) for name in FAMILIES])[:batch]


# ---------------------------------------------------------------- quality

def rowwise_spearman(predicted: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """(B, n), (B, n) -> (B,) Spearman's rho of each predicted row with the ranks of the matching row
    of x, ties averaged as in scipy.stats.spearmanr."""
    a = scipy.stats.rankdata(predicted.detach().cpu().double().numpy(), axis=-1)
    b = scipy.stats.rankdata(x.detach().cpu().double().numpy(), axis=-1)
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


FAMILY_SETS = ("sodeep", "project")


def validation_set(seq_len: int, n: int = 500, families: str = "project") -> dict[str, torch.Tensor]:
    """Family -> (n, seq_len): the fixed held-out vectors (VALIDATION_SEED; training never uses it) of
    SoDeep's distinct distributions (`families="sodeep"`) or of the project's eight (`"project"`)."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    if families == "sodeep":
        return {family: sodeep_family_batch(family, n, seq_len, generator) for family in SODEEP_FAMILIES}
    return {family: synthetic_batch(family, n, seq_len, generator) for family in FAMILIES}


@torch.no_grad()
def _predict(sorter: nn.Module, x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Chunked forward, so that a large held-out set needs little memory."""
    return torch.cat([sorter(part) for part in x.split(chunk)])


def rank_quality(sorter: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Mean Spearman of predicted vs exact ranks, mean L1 between them (the training loss, in
    normalised-rank units) and the same in rank positions (L1 * n)."""
    predicted = _predict(sorter, x)
    rho = rowwise_spearman(predicted, x) if x.shape[-1] > 1 else np.ones(1)
    l1 = float((predicted - exact_ranks(x)).abs().mean())
    return {"spearman": float(np.nanmean(rho)), "l1": l1, "mean_abs_rank_error": l1 * x.shape[-1]}


def evaluate_sorter(sorter: nn.Module, seq_len: int, n: int = 500, families: str = "project") -> dict[str, dict]:
    """`rank_quality` per family of the held-out set of `families` ("sodeep" or "project")."""
    return {family: rank_quality(sorter, x) for family, x in validation_set(seq_len, n, families).items()}


def gradient_by_spread(sorter: nn.Module, seq_len: int, spreads, rows: int = 8, offset: float = 0.0,
                       seed: int = 5) -> list[float]:
    """Per spread: mean over `rows` lists of |d loss / d predictions|, where the predictions are
    offset + spread * (a unit-sd row) and the loss is the paper's ranking loss (eq. 6: MSE between the
    sorter's ranks of the predictions and the exact ranks of unrelated true losses), summed over lists.
    (The sorters centre each list; a large offset only adds float32 rounding at tiny spreads.)"""
    generator = torch.Generator().manual_seed(seed)
    base = torch.randn(rows, seq_len, generator=generator)
    base = (base - base.mean(-1, keepdim=True)) / base.std(-1, correction=0, keepdim=True).clamp(min=1e-12)
    target = exact_ranks(torch.randn(rows, seq_len, generator=generator))
    norms = []
    for spread in spreads:
        x = (offset + spread * base).requires_grad_(True)
        (sorter(x) - target).pow(2).mean(-1).sum().backward()
        norms.append(x.grad.norm(dim=-1).mean().item())
    return norms


# ---------------------------------------------------------------- files

def weights_path(seq_len: int, kind: str = DEFAULT_KIND) -> Path:
    """Where the shipped weights for (seq_len, kind) live; the training record is the .json beside
    them, the resumable training state (sodeep) the .ckpt."""
    return WEIGHTS_DIR / f"{kind}-{seq_len}.pt"


def available_sorter_lengths(kind: str = DEFAULT_KIND) -> list[int]:
    """Sequence lengths with shipped weights for `kind`, ascending."""
    stems = (p.stem.rpartition("-") for p in WEIGHTS_DIR.glob(f"{kind}-*.pt"))
    return sorted(int(n) for prefix, _, n in stems if prefix == kind and n.isdigit())


def weights_hash(seq_len: int, kind: str = DEFAULT_KIND) -> str:
    """sha256 (hex) of the shipped weights file of (seq_len, kind): what a study records to say which
    sorter it used."""
    from .store import file_sha256  # noqa: PLC0415 (store imports config)

    return file_sha256(_existing_weights(seq_len, kind))


class MissingSorterError(FileNotFoundError):
    """No shipped weights for the requested sequence length and kind."""


def _existing_weights(seq_len: int, kind: str) -> Path:
    _check_kind(kind)
    path = weights_path(seq_len, kind)
    if not path.is_file():
        raise MissingSorterError(f"no pretrained {kind} sorter for length {seq_len} ({path} missing); train one with"
                                 f" `python -m l2ral_lib sorter --kind {kind} --seq-len {seq_len}`")
    return path


def save_sorter(net: nn.Module, record: dict, out: Path) -> None:
    """Weights to `out` (.pt), the training record beside it (.json); each written atomically."""
    from .store import atomic_torch_save, atomic_write_json  # noqa: PLC0415 (store imports config)

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(out, {"kind": record["kind"], "config": net.config, "seq_len": record["seq_len"],
                            "state_dict": net.state_dict()})
    atomic_write_json(out.with_suffix(".json"), record)


@lru_cache(maxsize=None)
def _load(seq_len: int, kind: str, device: str) -> FrozenSorter:
    saved = torch.load(_existing_weights(seq_len, kind), map_location="cpu", weights_only=True)
    # building the network draws initial weights from the global RNG; loading must leave the
    # caller's random stream alone, or a study's randomness would depend on when the cache filled
    with torch.random.fork_rng(devices=[]):
        net = build_sorter(saved["kind"], **saved["config"])
    net.load_state_dict(saved["state_dict"])
    return FrozenSorter(net, seq_len).to(device)


def load_sorter(seq_len: int, kind: str = DEFAULT_KIND, device=None) -> FrozenSorter:
    """The shipped, frozen sorter for lists of `seq_len` items, (B, seq_len) -> (B, seq_len).
    Cached per (seq_len, kind, device): callers share one module, which is safe since it is frozen."""
    _check_kind(kind)
    return _load(int(seq_len), kind, str(torch.device(device or "cpu")))


# ---------------------------------------------------------------- training the gru kind

def train_gru(seq_len: int, steps: int = 2400, batch: int = 128, lr: float = 3e-3, seed: int = 0,
              out: str | Path | None = None, log=print):
    """Pretrain a `gru` sorter for lists of `seq_len` on fresh synthetic batches of the project's
    families (L1 on normalised ranks, Adam, cosine decay to zero, gradient norm clipped at 1).
    -> (FrozenSorter, training record); with `out` (a .pt path), the weights go there and the
    record beside them as .json."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(2 * seed + 2)  # even: never VALIDATION_SEED
    net = build_sorter("gru")
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.time()
    for step in range(steps):
        x = mixed_batch(batch, seq_len, generator)
        loss = F.l1_loss(net(x), exact_ranks(x))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % max(1, steps // 20) == 0 or step == steps - 1:
            log(f"seq_len {seq_len} step {step + 1}/{steps} L1 {loss.item():.4f} ({time.time() - start:.0f} s)")
    wall = time.time() - start
    sorter = FrozenSorter(net, seq_len)
    record = {"kind": "gru", "seq_len": seq_len, "architecture": net.config, "features": "z, tanh(z), asinh(robust z)",
              "steps": steps, "batch": batch, "lr": lr, "seed": seed, "loss": "L1 on normalised ranks",
              "optimizer": "Adam, cosine decay to 0, grad-norm clip 1", "families": list(FAMILIES),
              "wall_s": round(wall, 1), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "validation": evaluate_sorter(sorter, seq_len)}
    if out is not None:
        save_sorter(net, record, Path(out))
    return sorter, record


# ---------------------------------------------------------------- training the sodeep kind

@dataclasses.dataclass(frozen=True)
class SoDeepRecipe:
    """technicolor-research/sodeep train.py defaults, except the list length (paper: 64, 32, 4) and the
    held-out set, which is fixed here (VALIDATION_SEED) so that the quality curve compares epochs."""
    seq_len: int
    epochs: int = 400  # -mepoch; the paper: "400 epochs"
    batch: int = 256  # -bs
    lr: float = 1e-3  # -lr, Adam
    lr_step: int = 70  # -lrs: StepLR(optimizer, 70, 0.5)
    lr_gamma: float = 0.5
    samples_per_epoch: int = 360_000  # SeqDataset(nb_sample=400000): 90% train, 10% validation
    val_size: int = 40_000
    seed: int = 0
    checkpoint_every: int = 200  # optimizer steps between checkpoints (SoDeep: one per epoch)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples_per_epoch / self.batch)  # the DataLoader keeps the last, smaller batch

    def batch_size(self, step: int) -> int:
        return min(self.batch, self.samples_per_epoch - step * self.batch)

    def lr_at(self, epoch: int) -> float:
        """train.py calls lr_scheduler.step() at the start of every epoch, after the constructor's own
        step: epoch e (from 0) runs at lr * gamma ** ((e + 1) // lr_step), first halved in epoch 69."""
        return self.lr * self.lr_gamma ** ((epoch + 1) // self.lr_step)

    def resumable_with(self, other: "SoDeepRecipe") -> bool:
        """A checkpoint continues under a recipe that differs at most in the epoch target."""
        return dataclasses.replace(self, epochs=other.epochs) == other


SODEEP_REFERENCE = ("technicolor-research/sodeep @ 0c0ee31: model.py gru_constrained, dataset.py get_rand_seq and"
                    " SeqDataset, train.py (Adam, StepLR, nn.L1Loss, best validation epoch kept)")


def checkpoint_path(out: Path) -> Path:
    return Path(out).with_suffix(".ckpt")


def _fresh_state(recipe: SoDeepRecipe) -> dict:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = build_sorter("sodeep")
    return {"recipe": dataclasses.asdict(recipe), "net": net.state_dict(), "optimizer": None,
            "generator": torch.Generator().manual_seed(2 * recipe.seed + 2).get_state(),  # even: never VALIDATION_SEED
            "epoch": 0, "step": 0, "steps_total": 0, "epoch_loss_sum": 0.0, "last_train_l1": None, "wall_s": 0.0,
            "history": [], "best": None, "segments": []}


def sodeep_held_out(recipe: SoDeepRecipe) -> torch.Tensor:
    """(val_size, seq_len): the fixed held-out vectors of the quality curve, SoDeep's type mix."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    types = torch.randint(0, len(SODEEP_TYPES), (recipe.val_size,), generator=generator)
    return sodeep_batch(types, recipe.seq_len, generator)


def train_sodeep(recipe: SoDeepRecipe, out: str | Path, resume: bool = False, max_minutes: float | None = None,
                 max_steps: int | None = None, device: str | torch.device = "cpu", log=print) -> dict:
    """Train (or, with `resume`, continue) a `sodeep` sorter by SoDeep's recipe until `recipe.epochs`,
    or until this call has run `max_minutes` or `max_steps`. The state goes to `<out>.ckpt` every
    `checkpoint_every` steps, at every epoch end and at the stop, so a killed run loses little; the
    weights of the best validated point (SoDeep keeps its best validation epoch; here a stop inside an
    epoch is a validated point too) go to `out` with the training record beside it. The vectors are
    drawn on the CPU whatever the `device`, so a run continues the same data stream anywhere. -> the record."""
    from .store import atomic_torch_save, git_commit  # noqa: PLC0415 (store imports config)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if resume:
        state = torch.load(checkpoint_path(out), map_location="cpu", weights_only=True)
        if not SoDeepRecipe(**state["recipe"]).resumable_with(recipe):
            raise ValueError(f"{checkpoint_path(out)} was trained with {state['recipe']},"
                             f" not {dataclasses.asdict(recipe)}")
        state["recipe"] = dataclasses.asdict(recipe)  # a new epoch target is allowed
    else:
        state = _fresh_state(recipe)
    net = build_sorter("sodeep")
    net.load_state_dict(state["net"])
    net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    if state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    generator = torch.Generator()
    generator.set_state(state["generator"])
    held_out = sodeep_held_out(recipe).to(device)
    segment = {"commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "steps": 0, "wall_s": 0.0,
               "device": str(device), "torch_threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    state["segments"].append(segment)
    start, begun, earlier_wall = time.time(), state["steps_total"], state["wall_s"]

    def save_checkpoint():
        segment.update(steps=state["steps_total"] - begun, wall_s=round(time.time() - start, 1))
        state.update(net=net.state_dict(), optimizer=optimizer.state_dict(), generator=generator.get_state(),
                     wall_s=round(earlier_wall + time.time() - start, 1))
        atomic_torch_save(checkpoint_path(out), state)

    def validate():
        """A point of the quality curve; the best so far becomes the exported weights."""
        net.eval()
        quality = rank_quality(net, held_out)
        net.train()
        epochs = state["epoch"] + state["step"] / recipe.steps_per_epoch
        point = {"epoch": round(epochs, 4), "steps": state["steps_total"], "lr": optimizer.param_groups[0]["lr"],
                 "train_l1": state["epoch_loss_sum"] / state["step"] if state["step"] else state["last_train_l1"],
                 "val_l1": quality["l1"], "val_spearman": quality["spearman"],
                 "wall_s": round(earlier_wall + time.time() - start, 1)}
        state["history"].append(point)
        log(f"sodeep-{recipe.seq_len} epoch {epochs:.3f}/{recipe.epochs}: train L1 {point['train_l1'] or math.nan:.4f},"
            f" held-out L1 {quality['l1']:.4f}, Spearman {quality['spearman']:.4f} ({time.time() - start:.0f} s)")
        if state["best"] is None or quality["l1"] < state["best"]["val_l1"]:
            state["best"] = {"epoch": point["epoch"], "val_l1": quality["l1"], "val_spearman": quality["spearman"],
                             "state_dict": {k: v.clone() for k, v in net.state_dict().items()}}

    def stop() -> bool:
        return (max_steps is not None and state["steps_total"] - begun >= max_steps) or (
            max_minutes is not None and time.time() - start >= 60 * max_minutes)

    net.train()
    while state["epoch"] < recipe.epochs and not stop():
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr_at(state["epoch"])
        while state["step"] < recipe.steps_per_epoch and not stop():
            x = sodeep_batch(torch.randint(0, len(SODEEP_TYPES), (recipe.batch_size(state["step"]),),
                                           generator=generator), recipe.seq_len, generator).to(device)
            loss = F.l1_loss(net(x), exact_ranks(x))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["epoch_loss_sum"] += loss.item()
            state["step"] += 1
            state["steps_total"] += 1
            if state["steps_total"] % recipe.checkpoint_every == 0:
                save_checkpoint()
        if state["step"] == recipe.steps_per_epoch:  # an epoch ends: validate, as train.py does
            state.update(epoch=state["epoch"] + 1, step=0, epoch_loss_sum=0.0,
                         last_train_l1=state["epoch_loss_sum"] / recipe.steps_per_epoch)
            validate()
            save_checkpoint()
    if state["best"] is None or state["history"][-1]["steps"] != state["steps_total"]:
        validate()  # stopped inside an epoch (or before any step)
    save_checkpoint()
    return export_sodeep(state, out)


def export_sodeep(state: dict, out: Path) -> dict:
    """The best validated weights to `out`, the training record beside it. -> the record."""
    recipe = SoDeepRecipe(**state["recipe"])
    net = build_sorter("sodeep")
    net.load_state_dict(state["best"]["state_dict"])
    sorter = FrozenSorter(net, recipe.seq_len)
    reached = state["epoch"] + state["step"] / recipe.steps_per_epoch
    record = {
        "kind": "sodeep", "seq_len": recipe.seq_len, "architecture": net.config, "reference": SODEEP_REFERENCE,
        "recipe": {**dataclasses.asdict(recipe), "steps_per_epoch": recipe.steps_per_epoch, "optimizer": "Adam",
                   "schedule": "lr * 0.5 ** ((epoch + 1) // 70) (StepLR stepped at each epoch start)",
                   "loss": "L1 between the output and exact_ranks", "data": "SoDeep's ten types, one per vector"},
        "epochs_reached": round(reached, 4), "epochs_target": recipe.epochs, "complete": reached >= recipe.epochs,
        "steps": state["steps_total"], "wall_s": state["wall_s"],
        "best": {k: v for k, v in state["best"].items() if k != "state_dict"},
        "history": state["history"], "segments": state["segments"],
        "resume": f"python -m l2ral_lib sorter --kind sodeep --seq-len {recipe.seq_len} --resume --force",
        "validation": {families: evaluate_sorter(sorter, recipe.seq_len, families=families)
                       for families in FAMILY_SETS},
    }
    save_sorter(net, record, out)
    return record


# ---------------------------------------------------------------- command line

def _print_quality(validation: dict) -> None:
    for family, quality in validation.items():
        print(f"  {family:30s} Spearman {quality['spearman']:.4f}"
              f"  mean |rank error| {quality['mean_abs_rank_error']:.3f}")


def main(argv: list[str]) -> int:
    """`python -m l2ral_lib sorter --seq-len N ...`: pretrain (or continue), save, print the quality tables.
    Existing weights are never overwritten without --force; those shipped with the package are read-only
    even for --resume, which writes where it reads."""
    parser = argparse.ArgumentParser(prog="python -m l2ral_lib sorter", description="pretrain a differentiable sorter")
    parser.add_argument("--seq-len", type=int, required=True, help="list length (= the study's batch size)")
    parser.add_argument("--kind", default=DEFAULT_KIND, choices=KINDS, help=f"default {DEFAULT_KIND} (the paper's)")
    parser.add_argument("--out", type=Path, help=f"weights file (default {WEIGHTS_DIR}/<kind>-<seq-len>.pt)")
    parser.add_argument("--force", action="store_true", help="overwrite existing weights, shipped ones included")
    parser.add_argument("--seed", type=int, default=0)
    # one thread: the GRU's small matrices gain little from more, and oversubscribed cores lose a lot
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    sodeep = parser.add_argument_group("sodeep kind (SoDeep's train.py recipe)")
    sodeep.add_argument("--epochs", type=int, default=400, help="epoch target (default 400, the paper's)")
    sodeep.add_argument("--max-minutes", type=float,
                        help="stop this run after M minutes (checkpointed; --resume goes on)")
    sodeep.add_argument("--resume", action="store_true", help="continue from the checkpoint <out>.ckpt")
    sodeep.add_argument("--device", default="cpu", help="cpu (default) | cuda | cuda:N")
    sodeep.add_argument("--samples-per-epoch", type=int, default=SoDeepRecipe.samples_per_epoch,
                        help="vectors per epoch (default SoDeep's 360000; smaller only for smoke tests)")
    gru = parser.add_argument_group("gru kind")
    gru.add_argument("--steps", type=int, default=2400)
    gru.add_argument("--batch", type=int, default=128)
    gru.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args(argv)
    if args.seq_len < 1 or args.steps < 1 or args.epochs < 1 or args.samples_per_epoch < 1:
        parser.error("--seq-len, --steps, --epochs and --samples-per-epoch must be >= 1")
    if args.kind == "gru" and (args.resume or args.max_minutes is not None or args.device != "cpu"):
        parser.error("--resume, --max-minutes and --device apply to --kind sodeep")
    out = args.out or weights_path(args.seq_len, args.kind)
    shipped = out.resolve().parent == WEIGHTS_DIR
    existing = [p for p in (out, checkpoint_path(out)) if p.exists()]
    if existing and not args.force and (shipped or not args.resume):
        what = "shipped weights are read-only" if shipped else "it would be overwritten"
        print(f"error: {existing[0]} exists ({what}); pass --force to overwrite it{' or continue it' * args.resume}, or"
              f" --out PATH to write elsewhere", file=sys.stderr)
        return 2
    if args.resume and not checkpoint_path(out).is_file():
        print(f"error: no checkpoint {checkpoint_path(out)} to resume; drop --resume to start afresh", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.kind == "gru":
        _, record = train_gru(args.seq_len, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, out=out)
        _print_quality(record["validation"])
        print(f"wrote {out} and {out.with_suffix('.json')} ({record['wall_s']} s)")
        return 0
    recipe = SoDeepRecipe(args.seq_len, epochs=args.epochs, samples_per_epoch=args.samples_per_epoch, seed=args.seed)
    try:
        record = train_sodeep(recipe, out, resume=args.resume, max_minutes=args.max_minutes, device=args.device,
                              log=lambda line: print(line, flush=True))  # flushed: runs go to a log in the background
    except ValueError as error:  # a checkpoint of another recipe
        print(f"error: {error}", file=sys.stderr)
        return 2
    for families, validation in record["validation"].items():
        print(f"{families} families:")
        _print_quality(validation)
    print(f"wrote {out}, {out.with_suffix('.json')} and {checkpoint_path(out)}: {record['epochs_reached']} of"
          f" {record['epochs_target']} epochs ({record['wall_s']} s in all)")
    if not record["complete"]:
        print(f"continue with: python -m l2ral_lib sorter --kind sodeep --seq-len {args.seq_len} --resume"
              + (" --force" if shipped else f" --out {out}"))
    return 0
