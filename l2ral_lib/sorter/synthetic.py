"""Synthetic vectors a sorter learns to rank: SoDeep's ten types (`sodeep_batch`, the paper's recipe)
and the project's eight wider families (`synthetic_batch`, `mixed_batch`: heavy tails, loss-like, near ties)."""
from __future__ import annotations

import math

import torch

# validation vectors come from an odd seed, training streams from even ones: never the same vectors
VALIDATION_SEED = 1


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
