"""One cycle's training of the target model (and the strategy's head), and its evaluation."""
from __future__ import annotations

import bisect

import torch
from tqdm import tqdm  # plain text bars: tqdm.auto warns in a kernel without ipywidgets

from .compilation import compiled
from .precision import autocast, prepare
from .tasks import spearman


class NumericalError(RuntimeError):
    """A NaN or infinite loss: the message names method, seed, cycle and epoch."""


def make_optimizer(model, params):
    """The target's optimizer and its per-epoch schedule: after e finished epochs the lr is
    lr x lr_gamma^(milestones <= e) x lr_decay_per_epoch^e (MultiStepLR times ExponentialLR)."""
    if params.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=params.lr, momentum=params.momentum,
                                    weight_decay=params.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    milestones = sorted(params.lr_milestones)

    def factor(epoch: int) -> float:
        return params.lr_gamma ** bisect.bisect_right(milestones, epoch) * params.lr_decay_per_epoch ** epoch

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batch_loss(model, strategy, task, params):
    """One training batch's loss, (inputs, targets, epoch) -> total: the target's forward, its mean
    per-sample loss and the strategy's head loss. One function, so that `compile` captures the step whole
    (compilation.py; its backward is compiled with it)."""
    device = next(model.parameters()).device

    def loss_of(inputs, targets, epoch):
        with autocast(params, device):
            output = model(prepare(inputs, params))
            per_sample_loss = task.per_sample_loss(output.output, targets)
            loss = per_sample_loss.mean()
            head_loss = strategy.head_loss(output, per_sample_loss, epoch)
        return loss if head_loss is None else loss + head_loss

    return loss_of


def train_cycle(model, strategy, data, task, labeled: torch.Tensor, params, where: str, progress: bool = True):
    """Train `model` (and the strategy's head, same batches) for params.epochs on pool items `labeled`.
    `where` ("method l2r, seed 0, cycle 3") names the run in a NaN error."""
    device = labeled.device
    optimizer, scheduler = make_optimizer(model, params)
    strategy.begin_cycle()
    model.train()
    loss_of = batch_loss(model, strategy, task, params)
    captured = compiled(loss_of, params)
    epochs = tqdm(range(params.epochs), desc=f"train {where}", leave=False, disable=not progress)
    for epoch in epochs:
        # accumulated on the device and checked once per epoch: no host sync inside the loop
        loss_sum = torch.zeros((), device=device)
        order = labeled[torch.randperm(len(labeled), device=device)]
        for inputs, targets in data.train_batches(order.split(params.batch_size), augment=True):
            # full batches through the compiled step; an epoch's short last batch eagerly, the same
            # function (its size changes with the labeled set: each would be another graph to compile)
            total = (captured if len(inputs) == params.batch_size else loss_of)(inputs, targets, epoch)
            optimizer.zero_grad(set_to_none=True)
            strategy.zero_grad()
            total.backward()
            optimizer.step()
            strategy.step()
            loss_sum += total.detach().float()
        scheduler.step()
        strategy.end_epoch()
        if not torch.isfinite(loss_sum):
            raise NumericalError(f"non-finite training loss at {where}, epoch {epoch}: lower lr or check the data;"
                                 " finished cycles are kept and a rerun resumes from them")


@torch.no_grad()
def evaluate(model, strategy, data, task, params) -> dict[str, float]:
    """Task metrics on the test set, plus the Spearman correlation between the strategy's predicted
    and the true per-sample test losses when it predicts losses (paper Fig. 5)."""
    model.eval()
    device = next(model.parameters()).device
    sums, true_losses, predicted = {}, [], []
    for inputs, targets in data.test_batches(torch.arange(data.n_test, device=device).split(params.eval_batch_size)):
        with autocast(params, device):
            output = model(prepare(inputs, params))
        for key, value in task.metric_sums(output.output.float(), targets).items():
            sums[key] = sums.get(key, 0) + value
        if strategy.predicts_loss:
            true_losses.append(task.per_sample_loss(output.output.float(), targets))
            predicted.append(strategy.predicted_loss(output))
    metrics = task.reduce_metrics(sums, data.n_test)
    if strategy.predicts_loss:
        metrics["spearman"] = spearman(torch.cat(predicted), torch.cat(true_losses))
    return metrics
