"""Random sampling: the baseline every method must beat."""
import torch

from .base import Strategy, register_strategy


@register_strategy("random")
class RandomSampling(Strategy):
    def query(self, ctx, budget):
        # the subset already lies in the (seed, cycle)'s shared random order of the pool (loop.query_subset):
        # its first `budget` items are a uniform random draw, reproducible and identical for every seed's rerun
        return torch.arange(budget, device=ctx.subset.device)
