"""L2R-AL (the paper's method), its ablations and the alternatives of its ranking step.

- `l2r`: L2R head on the last block, trained listwise through the frozen sorter (eq. 6).
- `l2r-all-features`: LL4AL's LossNet (all four blocks) trained the L2R way: Fig. 5's
  "Rank-all-features", isolating the head architecture.
- `l2r-mse`: L2R head trained with MSE on the raw loss values: the Fig. 2 argument.
- `l2r-softrank`, `l2r-diffsort`: L2R head trained with eq. 6 through an analytic relaxation of the
  ranks instead of the pretrained sorter (losses.py; issue 16's controlled test of the listwise claim).
- `l2r-gru-sorter`: `l2r` with the project's `gru` sorter kind in place of SoDeep's (Fig. 5's sorter
  comparison).
All of them keep the head's gradient away from the target model and train with their own optimizer.
"""
from __future__ import annotations

from .base import register_strategy
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
