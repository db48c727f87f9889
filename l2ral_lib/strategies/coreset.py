"""Core-set (Sener & Savarese 2018): k-center greedy on penultimate features, labeled points as centres."""
from __future__ import annotations

import torch

from .base import Strategy, register_strategy

CHUNK = 2048  # rows per distance block: bounds memory at CHUNK x N floats for any pool size


def _min_distances(pool: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N,) Euclidean distance from each pool point to its nearest centre, computed in blocks."""
    nearest = torch.full((len(pool),), float("inf"), device=pool.device, dtype=pool.dtype)
    for start in range(0, len(centres), CHUNK):
        block = torch.cdist(pool, centres[start:start + CHUNK])
        nearest = torch.minimum(nearest, block.min(1).values)
    return nearest


def kcenter_greedy(pool: torch.Tensor, labeled: torch.Tensor, budget: int) -> torch.Tensor:
    """Pick `budget` distinct rows of pool (N, D), each the point farthest from the labeled points
    (M, D) and the earlier picks. -> LongTensor (budget,) of indices into pool."""
    if budget > len(pool):
        raise ValueError(f"budget {budget} exceeds the pool of {len(pool)} points")
    pool = pool.float()
    # with no labeled point every distance is inf and argmax takes the first point
    nearest = _min_distances(pool, labeled.float())
    picks = torch.empty(budget, dtype=torch.long, device=pool.device)
    for i in range(budget):
        pick = nearest.argmax()
        picks[i] = pick
        nearest = torch.minimum(nearest, torch.linalg.vector_norm(pool - pool[pick], dim=1))
        nearest[pick] = -1.0  # never picked twice, even among duplicate points
    return picks


@register_strategy("coreset")
class CoreSet(Strategy):
    def query(self, ctx, budget):
        with ctx.timed("score"):  # feature extraction
            subset_features = ctx.map_pool(ctx.subset, lambda out: out.embedding)
            labeled_features = ctx.map_pool(ctx.labeled, lambda out: out.embedding)
        with ctx.timed("select"):
            return kcenter_greedy(subset_features, labeled_features, budget)
