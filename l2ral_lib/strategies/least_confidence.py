"""Least-confidence sampling (Lewis & Gale, SIGIR 1994; the "conf" baseline of Ash et al., ICLR 2020):
the smallest probability of the predicted class. Follows JordanAsh/badge
`query_strategies/least_confidence.py` (softmax of the eval-mode model, max over classes)."""
from __future__ import annotations

import torch

from .base import ClassificationOnly, ScoreStrategy, register_strategy


def confidence(logits: torch.Tensor) -> torch.Tensor:
    """(B,) largest softmax probability."""
    return torch.softmax(logits.float(), dim=1).amax(1)


@register_strategy("least-confidence")
class LeastConfidence(ClassificationOnly, ScoreStrategy):
    def score(self, ctx):
        return -ctx.map_pool(ctx.subset, lambda out: confidence(out.output))
