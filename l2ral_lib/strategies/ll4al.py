"""Learning Loss for Active Learning (Yoo & Kweon, CVPR 2019), as the L2R-AL paper compares with it:
LossNet on all four blocks, pairwise margin loss added to the target loss with weight lambda, the
head's input detached from `ll4al_detach_epoch` on (LL4AL: after 120 of its 200 epochs, Mephisto405
config.py EPOCHL; the L2R-AL paper does not say, the profiles' choices are in FIDELITY.md)."""
from __future__ import annotations

from ..errors import ParamsError
from .base import register_strategy
from .loss_head import LossHeadStrategy, lossnet


def check_detach_epoch(params) -> None:
    """The detach epoch of the methods whose head trains the target (LL4AL, l2r-joint) lies within the epochs."""
    if params.ll4al_detach_epoch > params.epochs:
        raise ParamsError("ll4al_detach_epoch", f"({params.ll4al_detach_epoch}) is beyond epochs ({params.epochs});"
                                                " the paper profiles detach after 0.8 of the epochs")


@register_strategy("ll4al")
class LearningLoss(LossHeadStrategy):
    default_rank_loss = "margin"

    def __init__(self, params, task, model, device):
        super().__init__(params, task, model, device)
        self.loss_weight = params.ll4al_weight

    @classmethod
    def check_params(cls, params):
        super().check_params(params)
        check_detach_epoch(params)

    def build_head(self, model):
        return lossnet(self.params, model)

    def detach_features(self, epoch):
        return epoch >= self.params.ll4al_detach_epoch


@register_strategy("ll4al-early-detach")
class LearningLossEarlyDetach(LearningLoss):
    """LL4AL as a sensitivity variant, never the paper's method: its LossNet's input detached from
    `ll4al_early_detach_epoch` on instead. On a short CPU schedule LL4AL's joint training leaves its target
    behind the others' before any query (the margin loss trains it until 0.8 of the epochs and little time
    is left to recover); an earlier detach, chosen by a pilot so that its cycle-0 accuracy is within a point
    of Random's, asks whether its queries are worse or only its target is."""

    @classmethod
    def check_params(cls, params):
        super().check_params(params)
        if params.ll4al_early_detach_epoch is None or params.ll4al_early_detach_epoch > params.epochs:
            raise ParamsError("ll4al_early_detach_epoch", f"({params.ll4al_early_detach_epoch}) must be an epoch within"
                                                          f" epochs ({params.epochs}) for ll4al-early-detach")

    def detach_features(self, epoch):
        return epoch >= self.params.ll4al_early_detach_epoch
