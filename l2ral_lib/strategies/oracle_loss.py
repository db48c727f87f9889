"""`oracle-loss`: an ORACLE, never a competitor. It reads the labels of the cycle's subset -- which no
active learner may -- and queries the `query_size` items with the highest TRUE per-sample loss under
the current model: what LL4AL and L2R-AL would query if their heads ranked the losses perfectly. It
answers the loss-prediction methods' question "how much could a perfect ranking of the losses gain?"
and is shown everywhere as "Oracle loss (upper bound)" (report.labels.METHOD_LABELS).

The true loss is exactly eq. 6's target as the loss-head strategies see it in training and as Fig. 5's
reference is computed at evaluation: the task's own per-sample loss (tasks.Task.per_sample_loss:
cross-entropy, the joints' heatmap MSE, the density-map MSE) of the model's float32-cast output, in
eval mode and without augmentation, the model run in the precision it trains in (under `amp` a bf16
forward whose output is cast to float32, as the loss heads' targets are; FIDELITY.md "true losses
under amp"). It is defined for every task. An upper bound for the loss-prediction methods' *ranking*,
not for every strategy: a high-loss query need not be the most useful one.
"""
from __future__ import annotations

from .base import ScoreStrategy, register_strategy


@register_strategy("oracle-loss")
class OracleLoss(ScoreStrategy):
    oracle = True  # reads the labels of the subset (tests/strategies/test_base.py exempts it, test_oracle_loss.py checks it does)

    def score(self, ctx):
        return ctx.map_pool(ctx.subset, lambda output, targets: self.task.per_sample_loss(output.output, targets),
                            with_targets=True)
