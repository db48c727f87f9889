"""L2R-AL (the paper's method), its ablations and the alternatives of its ranking step.

- `l2r`: L2R head on the last block, trained listwise through the frozen sorter (eq. 6).
- `l2r-all-features`: LL4AL's LossNet (all four blocks) trained the L2R way: Fig. 5's
  "Rank-all-features", isolating the head architecture.
- `l2r-mse`: L2R head trained with MSE on the raw loss values: the Fig. 2 argument.
- `l2r-softrank`, `l2r-diffsort`: L2R head trained with eq. 6 through an analytic relaxation of the
  ranks instead of the pretrained sorter (losses.py; a controlled test of the listwise claim).
- `l2r-gru-sorter`: `l2r` with the project's `gru` sorter kind in place of SoDeep's (Fig. 5's sorter
  comparison).
- `l2r-joint`: `l2r` -- its head, its sorter objective, weight 1 -- with the ranking gradient flowing into
  the target model's features as LL4AL's does, until `ll4al_detach_epoch` (the test of
  Sec. III-C's "we stop the ranking loss gradient to the target model [...] This is better").
All of them but `l2r-joint` keep the head's gradient away from the target model (`l2r-all-features`
included: the paper's "Rank-all-features" does not say, FIDELITY.md); all train the head with its
own optimizer.
"""
from __future__ import annotations

from .base import register_strategy
from .ll4al import check_detach_epoch
from .loss_head import LossHeadStrategy, l2r_head, lossnet


@register_strategy("l2r")
class L2R(LossHeadStrategy):
    default_rank_loss = "sodeep"

    def build_head(self, model):
        return l2r_head(self.params, model)


@register_strategy("l2r-all-features")
class L2RAllFeatures(LossHeadStrategy):
    default_rank_loss = "sodeep"

    def build_head(self, model):
        return lossnet(self.params, model)


@register_strategy("l2r-mse")
class L2RMse(L2R):
    default_rank_loss = "mse"


@register_strategy("l2r-softrank")
class L2RSoftRank(L2R):
    default_rank_loss = "softrank"


@register_strategy("l2r-diffsort")
class L2RDiffSort(L2R):
    default_rank_loss = "diffsort"


@register_strategy("l2r-gru-sorter")
class L2RGruSorter(L2R):
    sorter_kind = "gru"


@register_strategy("l2r-joint")
class L2RJoint(L2R):
    """L2R-AL without the stop-gradient: the sorter loss, added with weight 1 to the target loss in the
    one backward pass (as `l2r`'s), also trains the target model through the features the head reads,
    for the epochs before `ll4al_detach_epoch` -- LL4AL's schedule, the joint training the paper's
    Sec. III-C contrasts L2R-AL with. A project ablation, no method of the paper."""

    @classmethod
    def check_params(cls, params):
        super().check_params(params)
        check_detach_epoch(params)

    def detach_features(self, epoch):
        return epoch >= self.params.ll4al_detach_epoch
