"""Ratio-of-confidence sampling (R. Monarch, "Human-in-the-Loop Machine Learning", Manning 2021, ch. 3,
"ratio of confidence"): query the unlabeled samples whose two most probable classes are closest in ratio.
It orders samples otherwise than margin sampling (their difference): of two samples whose top two
probabilities are (0.45, 0.35) and (0.25, 0.17), margin sampling queries the second first (margin 0.08 <
0.10), ratio of confidence the first (ratio 0.78 > 0.68)."""
from __future__ import annotations

from l2ral_lib.strategies.base import ClassificationOnly, ScoreStrategy, register_strategy

from .scores import ratio_of_confidence


@register_strategy("ratio-of-confidence")  # the entry point's name (pyproject.toml)
class RatioOfConfidence(ClassificationOnly, ScoreStrategy):
    """Scores the query subset by `ratio_of_confidence` of the eval-mode model; the top scores are queried."""

    def score(self, ctx):
        return ctx.map_pool(ctx.subset, lambda out: ratio_of_confidence(out.output))
