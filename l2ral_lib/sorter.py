"""Differentiable sorter after SoDeep (Engilberge et al., CVPR 2019): a bidirectional GRU, pretrained
on synthetic vectors to output their normalised ranks, then frozen and used to turn predicted losses
into ranks that a gradient can pass through (paper Sec. III-B, Fig. 3).

Conventions: `exact_ranks(x)` gives ascending normalised ranks in [1/n, 1]; the sorter approximates
them. Inputs are standardised per row inside the module, so the sorter is invariant to positive
affine rescaling (predicted losses come at any scale, and it drifts during training). No parameter
depends on the sequence length; weights are still trained per length, since the rank of an item
among n others is what the GRU learns to count.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS_DIR = Path(__file__).resolve().parent / "sorter_weights"


def exact_ranks(x: torch.Tensor) -> torch.Tensor:
    """(..., n) -> ascending normalised ranks (..., n): smallest -> 1/n, largest -> 1; ties by position."""
    n = x.shape[-1]
    order = torch.argsort(x, dim=-1, stable=True)
    return (torch.argsort(order, dim=-1, stable=True).to(torch.float32) + 1) / n


class GRUSorter(nn.Module):
    """(B, n) scores -> (B, n) approximate `exact_ranks`, differentiable w.r.t. the scores."""

    def __init__(self, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.config = {"hidden": hidden, "layers": layers}
        self.gru = nn.GRU(2, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.readout = nn.Sequential(nn.Linear(2 * hidden + 2, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    @staticmethod
    def standardise(x: torch.Tensor) -> torch.Tensor:
        """Per-row zero mean, unit sd; a constant row maps to zeros, not NaN."""
        centred = x - x.mean(-1, keepdim=True)
        return centred / (centred.pow(2).mean(-1, keepdim=True).sqrt() + 1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.standardise(x.float())
        # the value and a squashed copy: heavy tails stay informative without dominating the GRU input
        features = torch.stack([z, torch.tanh(z)], -1)  # (B, n, 2)
        hidden, _ = self.gru(features)
        return self.readout(torch.cat([hidden, features], -1)).squeeze(-1)


class FrozenSorter(nn.Module):
    """A pretrained sorter for lists of exactly `seq_len` items; parameters frozen, eval mode."""

    def __init__(self, net: nn.Module, seq_len: int):
        super().__init__()
        self.net, self.seq_len = net, seq_len
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # stays in eval mode inside a model's .train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.seq_len:
            raise ValueError(f"this sorter ranks lists of length {self.seq_len}, got length {x.shape[-1]}")
        # cuDNN's GRU backward only runs in training mode; the sorter has no dropout or batch norm,
        # so training mode computes exactly the same function
        with torch.backends.cudnn.flags(enabled=False):
            return self.net(x)


# ---------------------------------------------------------------- synthetic data

def _loss_like(shape, g):
    base = torch.exp(torch.randn(shape, generator=g) * (0.5 + 1.5 * torch.rand(shape[0], 1, generator=g)))
    outliers = torch.rand(shape, generator=g) < 0.05
    return torch.where(outliers, base * (5 + 20 * torch.rand(shape, generator=g)), base)


def _mixture(shape, g):
    pick = torch.rand(shape, generator=g) < torch.rand(shape[0], 1, generator=g)
    a = torch.randn(shape, generator=g) * torch.rand(shape[0], 1, generator=g)
    b = torch.randn(shape, generator=g) * 0.3 + 4 * torch.randn(shape[0], 1, generator=g)
    return torch.where(pick, a, b)


def _shuffle(values, g):
    return torch.gather(values, 1, torch.argsort(torch.rand(values.shape, generator=g), dim=1))


FAMILIES = {
    "uniform": lambda s, g: torch.rand(s, generator=g),
    "normal": lambda s, g: torch.randn(s, generator=g),
    "evenly_spaced": lambda s, g: _shuffle(torch.linspace(0, 1, s[1]).expand(s).clone(), g),
    "shuffled_range": lambda s, g: _shuffle(torch.arange(s[1], dtype=torch.float32).expand(s).clone(), g),
    "mixture": _mixture,
    "heavy_tailed": lambda s, g: torch.tan(math.pi * (torch.rand(s, generator=g) - 0.5)).clamp(-1e4, 1e4),
    "loss_like": _loss_like,
    "near_ties": lambda s, g: torch.randint(0, 4, s, generator=g).float() + 1e-3 * torch.rand(s, generator=g),
}


def synthetic_batch(family: str, batch: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, seq_len) vectors of one family, each at a random scale and offset."""
    values = FAMILIES[family]((batch, seq_len), generator)
    scale = torch.exp(torch.randn(batch, 1, generator=generator) * 2)
    offset = torch.randn(batch, 1, generator=generator) * 10
    return values * scale + offset


def mixed_batch(batch: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
    names = list(FAMILIES)
    per = math.ceil(batch / len(names))
    return torch.cat([synthetic_batch(name, per, seq_len, generator) for name in names])[:batch]


# ---------------------------------------------------------------- quality, training, loading

@torch.no_grad()
def evaluate_sorter(sorter: nn.Module, seq_len: int, n: int = 500, seed: int = 12345) -> dict[str, dict[str, float]]:
    """Per family: mean Spearman (of predicted vs exact ranks, = Pearson of ranks for distinct values)
    and mean absolute rank error, on held-out vectors (a seed the training never uses)."""
    from .tasks import spearman  # noqa: PLC0415

    generator = torch.Generator().manual_seed(seed)
    report = {}
    for family in FAMILIES:
        x = synthetic_batch(family, n, seq_len, generator)
        predicted, exact = sorter(x), exact_ranks(x)
        rhos = [spearman(p, e) for p, e in zip(predicted, exact)] if seq_len > 1 else [1.0]
        report[family] = {"spearman": float(sum(rhos) / len(rhos)),
                          "mean_abs_rank_error": float((predicted - exact).abs().mean() * seq_len)}
    return report


def train_sorter(seq_len: int, kind: str = "gru", steps: int = 3000, batch: int = 128, lr: float = 3e-3,
                 seed: int = 0, out: Path | None = None, log=print):
    """Pretrain a sorter on fresh synthetic batches (L1 on ranks, Adam, cosine decay).
    -> (FrozenSorter, training record); with `out`, weights and record are saved there."""
    if kind != "gru":
        raise ValueError(f"unknown sorter kind '{kind}'; known: gru")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = GRUSorter()
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
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            log(f"seq_len {seq_len} step {step}/{steps} L1 {loss.item():.4f}")
    sorter = FrozenSorter(net, seq_len)
    record = {"kind": kind, "seq_len": seq_len, "architecture": net.config, "steps": steps, "batch": batch, "lr": lr,
              "seed": seed, "loss": "L1 on normalised ranks", "optimizer": "Adam, cosine decay",
              "families": list(FAMILIES), "wall_s": round(time.time() - start, 1), "torch": torch.__version__,
              "validation": evaluate_sorter(sorter, seq_len)}
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"config": net.config, "state_dict": net.state_dict(), "seq_len": seq_len}, out)
        out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return sorter, record


def weights_path(seq_len: int, kind: str = "gru") -> Path:
    return WEIGHTS_DIR / f"{kind}-{seq_len}.pt"


def available_sorter_lengths(kind: str = "gru") -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in WEIGHTS_DIR.glob(f"{kind}-*.pt"))


class MissingSorterError(FileNotFoundError):
    pass


@lru_cache(maxsize=None)
def _load(seq_len: int, kind: str, device: str) -> FrozenSorter:
    path = weights_path(seq_len, kind)
    if not path.is_file():
        raise MissingSorterError(f"no pretrained {kind} sorter for length {seq_len} ({path} missing); train one with"
                                 f" `make sorter SEQ_LEN={seq_len}` or `python -m l2ral_lib sorter --seq-len {seq_len}`")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = GRUSorter(**saved["config"])
    net.load_state_dict(saved["state_dict"])
    return FrozenSorter(net, seq_len).to(device)


def load_sorter(seq_len: int, kind: str = "gru", device=None) -> FrozenSorter:
    """The shipped, frozen sorter for lists of `seq_len` items (cached per length, kind and device)."""
    return _load(int(seq_len), kind, str(torch.device(device or "cpu")))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2ral_lib sorter", description="pretrain a SoDeep sorter")
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--kind", default="gru")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help=f"weights file (default {WEIGHTS_DIR}/<kind>-<len>.pt)")
    args = parser.parse_args(argv)
    out = args.out or weights_path(args.seq_len, args.kind)
    _, record = train_sorter(args.seq_len, args.kind, steps=args.steps, batch=args.batch, seed=args.seed, out=out)
    for family, quality in record["validation"].items():
        print(f"{family:15s} spearman {quality['spearman']:.4f}  mean |rank error| {quality['mean_abs_rank_error']:.3f}")
    print(f"wrote {out} ({record['wall_s']} s)")
    return 0
