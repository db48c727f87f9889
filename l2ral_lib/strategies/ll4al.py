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
