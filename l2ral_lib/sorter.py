"""Differentiable sorter after SoDeep (Engilberge et al., CVPR 2019): a bidirectional GRU, pretrained
on synthetic vectors to output their normalised ranks, then frozen and used to turn predicted losses
into ranks that a gradient can pass through (paper Sec. III-B, Fig. 3).

Conventions: `exact_ranks(x)` gives ascending normalised ranks in [1/n, 1]; the sorter approximates
them. Inputs are standardised per row inside the module, so the sorter is invariant to positive
affine rescaling (predicted losses come at any scale, and their scale drifts during training). No
parameter depends on the sequence length; weights are still trained per length, because what the
GRU learns is to count how many of the n - 1 other items lie below each item.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.stats
import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS_DIR = Path(__file__).resolve().parent / "sorter_weights"
KINDS = ("gru",)
# validation vectors come from an odd seed, training streams from even ones: never the same vectors
VALIDATION_SEED = 1


def exact_ranks(x: torch.Tensor) -> torch.Tensor:
    """(..., n) -> float32 (..., n) ascending normalised ranks: smallest -> 1/n, largest -> 1.
    Ties are broken by position (stable argsort of a stable argsort)."""
    n = x.shape[-1]
    order = torch.argsort(x, dim=-1, stable=True)
    return (torch.argsort(order, dim=-1, stable=True).to(torch.float32) + 1) / n


# ---------------------------------------------------------------- the sorter

def _standardise(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, n) -> (B, n) zero mean, unit sd per row. The eps sits inside the square root so that a
    constant row maps to zeros with a finite (zero) gradient rather than NaN."""
    centred = x - x.mean(-1, keepdim=True)
    return centred / (centred.pow(2).mean(-1, keepdim=True) + eps * eps).sqrt()


def _robust_standardise(z: torch.Tensor) -> torch.Tensor:
    """(B, n) standardised rows -> (B, n) centred on the median, scaled by the median absolute
    deviation. One outlier squeezes the bulk of a mean/sd-standardised row into a sliver; the
    median and MAD ignore it, so the bulk keeps a resolution the GRU can tell apart. The 1e-2 floor
    (in sd units) keeps rows with more than half their values tied finite."""
    centred = z - z.median(-1, keepdim=True).values
    return centred / (centred.abs().median(-1, keepdim=True).values + 1e-2)


class GRUSorter(nn.Module):
    """(B, n) scores -> (B, n) approximate `exact_ranks`, differentiable w.r.t. the scores.

    Per position the GRU reads monotone transforms of that value alone (the ranking itself is
    learned): the standardised value z, tanh(z), and asinh of the robust-standardised value (a
    log-like squash that keeps heavy tails ordered without letting them dominate). A multi-layer
    bidirectional GRU then sees the whole list; a small MLP per position maps [both directions'
    states, the features] to the predicted normalised rank.
    """

    n_features = 3

    def __init__(self, hidden: int = 64, layers: int = 2, readout: int = 64):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers, "readout": readout}
        self.gru = nn.GRU(self.n_features, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.readout = nn.Sequential(nn.Linear(2 * hidden + self.n_features, readout), nn.ReLU(),
                                     nn.Linear(readout, 1))

    @staticmethod
    def features(x: torch.Tensor) -> torch.Tensor:
        """(B, n) -> (B, n, 3), invariant to x -> a * x + b for a > 0."""
        z = _standardise(x.float())
        return torch.stack([z, torch.tanh(z), torch.asinh(_robust_standardise(z))], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        states, _ = self.gru(features)  # (B, n, 2 * hidden)
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


def build_sorter(kind: str = "gru", **config) -> nn.Module:
    """An untrained sorter network of `kind` (only "gru": SoDeep's recurrent sorter)."""
    if kind not in KINDS:
        raise ValueError(f"unknown sorter kind '{kind}'; known: {', '.join(KINDS)}")
    return GRUSorter(**config)


# ---------------------------------------------------------------- synthetic training data
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


def validation_set(seq_len: int, n: int = 500) -> dict[str, torch.Tensor]:
    """Family -> (n, seq_len): the fixed held-out vectors (VALIDATION_SEED; training never uses it)."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    return {family: synthetic_batch(family, n, seq_len, generator) for family in FAMILIES}


@torch.no_grad()
def evaluate_sorter(sorter: nn.Module, seq_len: int, n: int = 500) -> dict[str, dict[str, float]]:
    """Per family of the held-out set: mean Spearman of predicted vs exact ranks, and mean absolute
    rank error in rank positions (|predicted - exact| * seq_len, averaged over items)."""
    report = {}
    for family, x in validation_set(seq_len, n).items():
        predicted = sorter(x)
        rho = rowwise_spearman(predicted, x) if seq_len > 1 else np.ones(1)
        report[family] = {"spearman": float(np.nanmean(rho)),
                          "mean_abs_rank_error": float((predicted - exact_ranks(x)).abs().mean() * seq_len)}
    return report


# ---------------------------------------------------------------- training, saving, loading

def train_sorter(seq_len: int, kind: str = "gru", steps: int = 2400, batch: int = 128, lr: float = 3e-3,
                 seed: int = 0, out: str | Path | None = None, log=print):
    """Pretrain a sorter for lists of `seq_len` on fresh synthetic batches of every family (L1 on
    normalised ranks, Adam, cosine decay to zero, gradient norm clipped at 1).
    -> (FrozenSorter, training record); with `out` (a .pt path), the weights go there and the
    record beside them as .json."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(2 * seed + 2)  # even: never VALIDATION_SEED
    net = build_sorter(kind)
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
    record = {"kind": kind, "seq_len": seq_len, "architecture": net.config, "features": "z, tanh(z), asinh(robust z)",
              "steps": steps, "batch": batch, "lr": lr, "seed": seed, "loss": "L1 on normalised ranks",
              "optimizer": "Adam, cosine decay to 0, grad-norm clip 1", "families": list(FAMILIES),
              "wall_s": round(wall, 1), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "validation": evaluate_sorter(sorter, seq_len)}
    if out is not None:
        save_sorter(net, record, Path(out))
    return sorter, record


def save_sorter(net: nn.Module, record: dict, out: Path) -> None:
    """Weights to `out` (.pt), the training record beside it (.json)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": record["kind"], "config": net.config, "seq_len": record["seq_len"],
                "state_dict": net.state_dict()}, out)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


def weights_path(seq_len: int, kind: str = "gru") -> Path:
    """Where the shipped weights for (seq_len, kind) live."""
    return WEIGHTS_DIR / f"{kind}-{seq_len}.pt"


def available_sorter_lengths(kind: str = "gru") -> list[int]:
    """Sequence lengths with shipped weights for `kind`, ascending."""
    stems = (p.stem.rpartition("-") for p in WEIGHTS_DIR.glob(f"{kind}-*.pt"))
    return sorted(int(n) for prefix, _, n in stems if prefix == kind and n.isdigit())


class MissingSorterError(FileNotFoundError):
    """No shipped weights for the requested sequence length and kind."""


@lru_cache(maxsize=None)
def _load(seq_len: int, kind: str, device: str) -> FrozenSorter:
    path = weights_path(seq_len, kind)
    if not path.is_file():
        raise MissingSorterError(f"no pretrained {kind} sorter for length {seq_len} ({path} missing); train one with"
                                 f" `make sorter SEQ_LEN={seq_len}` or `python -m l2ral_lib sorter --seq-len {seq_len}`")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    # building the network draws initial weights from the global RNG; loading must leave the
    # caller's random stream alone, or a study's randomness would depend on when the cache filled
    with torch.random.fork_rng(devices=[]):
        net = build_sorter(saved["kind"], **saved["config"])
    net.load_state_dict(saved["state_dict"])
    return FrozenSorter(net, seq_len).to(device)


def load_sorter(seq_len: int, kind: str = "gru", device=None) -> FrozenSorter:
    """The shipped, frozen sorter for lists of `seq_len` items, (B, seq_len) -> (B, seq_len).
    Cached per (seq_len, kind, device): callers share one module, which is safe since it is frozen."""
    if kind not in KINDS:
        raise ValueError(f"unknown sorter kind '{kind}'; known: {', '.join(KINDS)}")
    return _load(int(seq_len), kind, str(torch.device(device or "cpu")))


def main(argv: list[str]) -> int:
    """`python -m l2ral_lib sorter --seq-len N ...`: pretrain, save, print the validation table."""
    parser = argparse.ArgumentParser(prog="python -m l2ral_lib sorter", description="pretrain a SoDeep sorter")
    parser.add_argument("--seq-len", type=int, required=True, help="list length (= the study's batch size)")
    parser.add_argument("--kind", default="gru", choices=KINDS)
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    # one thread: the GRU's small matrices gain little from more, and oversubscribed cores lose a lot
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out", type=Path, help=f"weights file (default {WEIGHTS_DIR}/<kind>-<seq-len>.pt)")
    args = parser.parse_args(argv)
    if args.seq_len < 1 or args.steps < 1:
        parser.error("--seq-len and --steps must be >= 1")
    torch.set_num_threads(args.threads)
    out = args.out or weights_path(args.seq_len, args.kind)
    _, record = train_sorter(args.seq_len, args.kind, steps=args.steps, batch=args.batch, lr=args.lr,
                             seed=args.seed, out=out)
    for family, quality in record["validation"].items():
        print(f"{family:15s} spearman {quality['spearman']:.4f}  mean |rank error| {quality['mean_abs_rank_error']:.3f}")
    print(f"wrote {out} and {out.with_suffix('.json')} ({record['wall_s']} s)")
    return 0
