"""One cycle's training of the target model (and the strategy's head), and its evaluation."""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import pandas as pd
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


def epoch_order(labeled: torch.Tensor, min_samples: int | None) -> torch.Tensor:
    """One epoch's order of the labeled items: a fresh permutation, and where `min_samples` asks for more,
    further fresh permutations after it, as many as reach it (each item seen equally often; a batch that
    spans two of them may hold an item twice). One pass draws exactly what the plain epoch draws."""
    passes = max(1, math.ceil(min_samples / len(labeled))) if min_samples else 1
    return torch.cat([labeled[torch.randperm(len(labeled), device=labeled.device)] for _ in range(passes)])


def train_cycle(model, strategy, data, task, labeled: torch.Tensor, params, where: str, progress: bool = True):
    """Train `model` (and the strategy's head, same batches) for params.epochs on pool items `labeled`
    (each epoch at least `min_epoch_samples` long where set).
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
        order = epoch_order(labeled, params.min_epoch_samples)
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


@dataclass(frozen=True)
class Evaluation:
    """What one pass over the test set measured: the task's metrics, and where asked for, the task's
    per-item values (`Task.item_values`, e.g. true and predicted counts), one row per test index."""

    metrics: dict[str, float]
    items: pd.DataFrame | None = None


@torch.no_grad()
def evaluate(model, strategy, data, task, params, items: bool = False) -> Evaluation:
    """Task metrics on the test set, plus the Spearman correlation between the strategy's predicted
    and the true per-sample test losses when it predicts losses (paper Fig. 5), and with `entropy_spearman`
    that of the same model's entropy with them ("spearman_entropy": the ranker every model has for free,
    which a loss head has to beat to be worth its training). With `items` (a task with `records_items`),
    the per-item values of the same pass."""
    model.eval()
    device = next(model.parameters()).device
    sums, true_losses, predicted, entropies, parts = {}, [], [], [], []
    ranks_losses = strategy.predicts_loss or params.entropy_spearman
    indices = torch.arange(data.n_test, device=device).split(params.eval_batch_size)
    for index, (inputs, targets) in zip(indices, data.test_batches(indices)):
        with autocast(params, device):
            output = model(prepare(inputs, params))
        for key, value in task.metric_sums(output.output.float(), targets).items():
            sums[key] = sums.get(key, 0) + value
        if ranks_losses:
            true_losses.append(task.per_sample_loss(output.output.float(), targets))
        if strategy.predicts_loss:
            predicted.append(strategy.predicted_loss(output))
        if params.entropy_spearman:
            entropies.append(task.entropy(output.output.float()))
        if items:
            values = task.item_values(output.output.float(), targets)
            parts.append(pd.DataFrame({"test_index": index.cpu().numpy(),
                                       **{k: v.double().cpu().numpy() for k, v in values.items()}}))
    metrics = task.reduce_metrics(sums, data.n_test)
    if strategy.predicts_loss:
        metrics["spearman"] = spearman(torch.cat(predicted), torch.cat(true_losses))
    if params.entropy_spearman:
        metrics["spearman_entropy"] = spearman(torch.cat(entropies), torch.cat(true_losses))
    return Evaluation(metrics, pd.concat(parts, ignore_index=True) if items else None)
