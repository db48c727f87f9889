"""Random sampling: the baseline every method must beat."""
import torch

from . import register_strategy
from .base import ScoreStrategy


@register_strategy("random")
class RandomSampling(ScoreStrategy):
    def score(self, ctx):
        # the loop seeds the global generator per (seed, method, cycle), so this is reproducible
        return torch.rand(len(ctx.subset), device=ctx.subset.device)
