"""L2R-AL (the paper's method) and its two ablations.

- `l2r`: L2R head on the last block, trained listwise through the frozen sorter (eq. 6).
- `l2r-all-features`: LL4AL's LossNet (all four blocks) trained the L2R way: Fig. 5's
  "Rank-all-features", isolating the head architecture.
- `l2r-mse`: L2R head trained with MSE on the raw loss values: the Fig. 2 argument.
All three keep the head's gradient away from the target model and train with their own optimizer.
"""
from __future__ import annotations

from ..errors import ParamsError
from ..losses import loss_mse, ranking_loss
from ..paths import PROJECT_ROOT
from ..sorter import available_sorter_lengths, load_sorter, weights_hash, weights_path
from . import register_strategy
from .loss_head import LossHeadStrategy, l2r_head, lossnet


class ListwiseRanking(LossHeadStrategy):
    """Trained with the sorter's ranking loss on each full training batch (list length = batch_size)."""

    def __init__(self, params, task, model, device):
        super().__init__(params, task, model, device)
        self.sorter = load_sorter(params.batch_size, kind=params.sorter_kind, device=self.device)

    @classmethod
    def check_params(cls, params):
        lengths = available_sorter_lengths(params.sorter_kind)
        if params.batch_size not in lengths:
            raise ParamsError("batch_size", f"{params.batch_size} matches no shipped {params.sorter_kind} sorter"
                                            f" (lengths {lengths}); use one of them or train one with"
                                            f" `make sorter SEQ_LEN={params.batch_size}`")

    def weights_used(self):
        file = weights_path(self.params.batch_size, self.params.sorter_kind)
        return {"sorter": {"file": str(file.relative_to(PROJECT_ROOT)),
                           "sha256": weights_hash(self.params.batch_size, self.params.sorter_kind)}}

    def objective(self, predicted_loss, true_loss):
        # the last, smaller batch of an epoch is no list the sorter was trained for: skip it
        if len(true_loss) != self.params.batch_size:
            return None
        return ranking_loss(predicted_loss, true_loss, self.sorter)


@register_strategy("l2r")
class L2R(ListwiseRanking):
    def build_head(self, model):
        return l2r_head(self.params, model)


@register_strategy("l2r-all-features")
class L2RAllFeatures(ListwiseRanking):
    def build_head(self, model):
        return lossnet(self.params, model)


@register_strategy("l2r-mse")
class L2RMse(LossHeadStrategy):
    def build_head(self, model):
        return l2r_head(self.params, model)

    def objective(self, predicted_loss, true_loss):
        return loss_mse(predicted_loss, true_loss)
