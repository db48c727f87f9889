"""Shared machinery of the strategies that learn to predict the target model's per-sample loss
and query the subset's highest predicted losses (LL4AL, L2R-AL and the ablations).

The subclasses differ in three choices only: the head (`build_head`), its objective
(`objective`), and whether its gradient may reach the target model (`detach_features`, `loss_weight`).
"""
from __future__ import annotations

import torch

from ..heads import L2RHead, LossNet
from ..precision import full_precision
from .base import ScoreStrategy


class LossHeadStrategy(ScoreStrategy):
    predicts_loss = True
    loss_weight = 1.0  # weight of the head's loss in the one backward pass of a training step

    def __init__(self, params, task, model, device):
        super().__init__(params, task, model, device)
        self.head = self.build_head(model).to(self.device)

    def build_head(self, model) -> torch.nn.Module:
        raise NotImplementedError

    def objective(self, predicted_loss: torch.Tensor, true_loss: torch.Tensor) -> torch.Tensor | None:
        """Head loss for one batch; None when this batch cannot be used (e.g. not a full sorter list)."""
        raise NotImplementedError

    def detach_features(self, epoch: int) -> bool:
        return True  # L2R-AL: no gradient from the head reaches the target model (paper Sec. III-C)

    def begin_cycle(self):
        # a fresh optimizer per cycle, like the target's (the LL4AL reference does the same)
        head_params = self.head.parameters()
        if self.params.head_optimizer == "adam":
            self.optimizer = torch.optim.Adam(head_params, lr=self.params.head_lr)
        else:  # the LL4AL reference's module optimiser: SGD with the target's weight decay
            self.optimizer = torch.optim.SGD(head_params, lr=self.params.head_lr, momentum=self.params.head_momentum,
                                             weight_decay=self.params.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, self.params.head_lr_milestones, 0.1)

    def head_loss(self, output, per_sample_loss, epoch):
        features = output.features
        if self.detach_features(epoch):
            features = [f.detach() for f in features]
        self.head.train()
        with full_precision():  # head, sorter and ranks in float32 under any autocast
            loss = self.objective(self.head(features), per_sample_loss.float())
        return None if loss is None else self.loss_weight * loss

    def zero_grad(self):
        self.optimizer.zero_grad(set_to_none=True)

    def step(self):
        self.optimizer.step()

    def end_epoch(self):
        self.scheduler.step()

    def predicted_loss(self, output) -> torch.Tensor:
        """(B,) float32 predicted loss of a model output (eval mode), outside any autocast."""
        self.head.eval()
        with full_precision():
            return self.head(output.features)

    def score(self, ctx):
        return ctx.map_pool(ctx.subset, self.predicted_loss)

    def state_dict(self):
        return {"head": self.head.state_dict()}

    def load_state_dict(self, state):
        self.head.load_state_dict(state["head"])


def l2r_head(params, model) -> L2RHead:
    return L2RHead(model.feature_channels[-1], params.head_hidden)


def lossnet(params, model) -> LossNet:
    return LossNet(model.feature_channels)
