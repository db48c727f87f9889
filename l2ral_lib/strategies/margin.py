"""Margin sampling (Scheffer et al., IDA 2001; the "margin" baseline of Ash et al., ICLR 2020): the
smallest gap between the two most probable classes. Follows JordanAsh/badge
`query_strategies/margin_sampling.py` (softmax of the eval-mode model, sorted, first minus second)."""
from __future__ import annotations

import torch

from .base import ClassificationOnly, ScoreStrategy, register_strategy


def margin(logits: torch.Tensor) -> torch.Tensor:
    """(B,) top-1 minus top-2 softmax probability: small = the model hesitates between two classes."""
    top2 = torch.softmax(logits.float(), dim=1).topk(2, dim=1).values
    return top2[:, 0] - top2[:, 1]


@register_strategy("margin")
class MarginSampling(ClassificationOnly, ScoreStrategy):
    def score(self, ctx):
        return -ctx.map_pool(ctx.subset, lambda out: margin(out.output))
