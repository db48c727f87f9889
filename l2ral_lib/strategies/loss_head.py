"""Shared machinery of the strategies that learn to predict the target model's per-sample loss
and query the subset's highest predicted losses (LL4AL, L2R-AL and the ablations).

The subclasses differ in four choices only: the head (`build_head`), its objective (`default_rank_loss`,
which the `rank_loss` param overrides; `make_objective` binds it to the study), the sorter kind of the
`sodeep` objective (`sorter_kind`), and whether the head's gradient may reach the target model
(`detach_features`, `loss_weight`).
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

import torch

from ..errors import ParamsError
from ..heads import L2RHead, LossNet
from ..losses import diffsort_loss, loss_mse, margin_ranking_loss, ranking_loss, softrank_loss
from ..paths import PROJECT_ROOT
from ..precision import full_precision
from ..sorter import available_sorter_lengths, load_sorter, sorter_training, weights_hash, weights_path
from .base import ScoreStrategy, get_strategy

Objective = Callable[[torch.Tensor, torch.Tensor], Optional[torch.Tensor]]
log = logging.getLogger(__name__)


def sorters_used(params) -> list[tuple[str, int]]:
    """(kind, length) of every sorter a study's methods train their heads through, in method order."""
    used = []
    for name in params.strategies:
        cls = get_strategy(name)
        if issubclass(cls, LossHeadStrategy) and cls.rank_loss_of(params) == "sodeep":
            key = (cls.kind_of(params), params.batch_size)
            if key not in used:
                used.append(key)
    return used


def announce_sorter_training(params) -> str | None:
    """At the start of a paper profile's run (study `*-paper`), one log line saying that its sorters
    were trained short of the paper's recipe (FIDELITY.md, "sorter architecture, synthetic data and
    pretraining"). -> the line, or None where there is nothing to say."""
    if not params.study.endswith("-paper"):
        return None
    short = []
    for kind, length in sorters_used(params):
        done = sorter_training(length, kind)
        if done and done["epochs_trained"] < done["epochs_target"]:
            lr = f"constant lr {done['lrs'][0]:g}" if len(done["lrs"]) == 1 else f"lr {done['lrs'][-1]:g}..{done['lrs'][0]:g}"
            short.append(f"{kind}-{length} trained {done['epochs_trained']:.2f} of its recipe's {done['epochs_target']}"
                         f" epochs at {lr} (weights of epoch {done['weights_epoch']:.2f})")
    if not short:
        return None
    line = (f"{params.study}: a paper profile, but its sorter is not the paper's 400-epoch one: "
            + "; ".join(short) + " (FIDELITY.md; recorded in each slice's provenance.json)")
    log.warning(line)
    return line


def make_objective(rank_loss: str, params, device, sorter_kind: str) -> Objective:
    """The head objective `rank_loss` (losses.RANK_LOSSES) bound to a study's params:
    (predicted, true) lists (..., d) -> loss, or None for a batch it cannot use."""
    if rank_loss == "sodeep":
        sorter = load_sorter(params.batch_size, kind=sorter_kind, device=device)

        def through_sorter(predicted, true):
            # the last, smaller batch of an epoch is no list the sorter was trained for: skip it
            return ranking_loss(predicted, true, sorter) if true.shape[-1] == params.batch_size else None
        return through_sorter
    if rank_loss == "mse":
        return loss_mse
    pairwise = {"margin": lambda predicted, true: margin_ranking_loss(predicted, true, params.ll4al_margin),
                "softrank": softrank_loss, "diffsort": diffsort_loss}[rank_loss]
    return lambda predicted, true: pairwise(predicted, true) if true.shape[-1] >= 2 else None  # one item: no order


def make_head_optimizer(params, head_parameters):
    """A loss head's optimizer and its per-epoch schedule (x0.1 at each of `head_lr_milestones`)."""
    if params.head_optimizer == "adam":
        optimizer = torch.optim.Adam(head_parameters, lr=params.head_lr)
    else:  # the LL4AL reference's module optimiser: SGD with the target's weight decay
        optimizer = torch.optim.SGD(head_parameters, lr=params.head_lr, momentum=params.head_momentum,
                                    weight_decay=params.weight_decay)
    return optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, params.head_lr_milestones, 0.1)


class LossHeadStrategy(ScoreStrategy):
    predicts_loss = True
    loss_weight = 1.0  # weight of the head's loss in the one backward pass of a training step
    default_rank_loss = ""  # the method's own head objective (losses.RANK_LOSSES); params.rank_loss overrides it
    sorter_kind: str | None = None  # the sorter of the sodeep objective; None: params.sorter_kind

    def __init__(self, params, task, model, device):
        super().__init__(params, task, model, device)
        self.head = self.build_head(model).to(self.device)
        self.rank_loss = self.rank_loss_of(params)
        self.objective = make_objective(self.rank_loss, params, self.device, self.kind_of(params))

    @classmethod
    def rank_loss_of(cls, params) -> str:
        return params.rank_loss or cls.default_rank_loss

    @classmethod
    def kind_of(cls, params) -> str:
        return cls.sorter_kind or params.sorter_kind

    @classmethod
    def check_params(cls, params):
        if cls.rank_loss_of(params) != "sodeep":
            return
        kind = cls.kind_of(params)
        lengths = available_sorter_lengths(kind)
        if params.batch_size not in lengths:
            raise ParamsError("batch_size", f"{params.batch_size} matches no shipped {kind} sorter"
                                            f" (lengths {lengths}); use one of them or train one with"
                                            f" `make sorter SEQ_LEN={params.batch_size}`")

    def weights_used(self):
        if self.rank_loss != "sodeep":
            return {}
        length, kind = self.params.batch_size, self.kind_of(self.params)
        trained = {k: v for k, v in sorter_training(length, kind).items() if k != "lrs"}
        return {"sorter": {"file": str(weights_path(length, kind).relative_to(PROJECT_ROOT)),
                           "sha256": weights_hash(length, kind), **trained}}

    def build_head(self, model) -> torch.nn.Module:
        raise NotImplementedError

    def detach_features(self, epoch: int) -> bool:
        return True  # L2R-AL: no gradient from the head reaches the target model (paper Sec. III-C)

    def begin_cycle(self):
        # a fresh optimizer per cycle, like the target's (the LL4AL reference does the same)
        self.optimizer, self.scheduler = make_head_optimizer(self.params, self.head.parameters())

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
