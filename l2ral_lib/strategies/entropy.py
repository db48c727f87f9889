"""Entropy sampling: the task's entropy of the model output (softmax entropy for classification)."""
from .base import ScoreStrategy, register_strategy


@register_strategy("entropy")
class EntropySampling(ScoreStrategy):
    def score(self, ctx):
        return ctx.map_pool(ctx.subset, lambda out: ctx.task.entropy(out.output))
