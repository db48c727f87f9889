"""The one signature every strategy implements.

A strategy lives for one (method, seed) slice of a study. The loop calls, per cycle:
`begin_cycle()`, then for each training batch `head_loss(...)` (added to the target loss before
one backward) and `step()` after the target optimizer's step, `end_epoch()`; then
`query(ctx, budget)`. Strategies that predict losses also expose `predicted_loss(output)`, which
the loop correlates with the true test losses (Fig. 5).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..data import get_dataset
from ..errors import ParamsError
from ..precision import autocast, prepare
from ..registry import Registry

STRATEGIES = Registry("strategy", plugins="l2ral.strategies")
list_strategies, get_strategy = STRATEGIES.names, STRATEGIES.get


def register_strategy(name: str):
    def wrap(cls):
        cls.name = name  # a strategy knows its own name (result rows, error messages)
        return STRATEGIES.register(name)(cls)
    return wrap


@dataclass
class QueryContext:
    """What a query may look at: the trained model, the data, the labeled set and the subset to pick from."""

    model: torch.nn.Module
    data: object  # StudyData
    task: object  # Task
    params: object  # Params
    labeled: torch.Tensor  # (M,) pool indices already labeled
    subset: torch.Tensor  # (S,) unlabeled pool indices the query picks from
    timings: dict = field(default_factory=dict)  # phase -> seconds, reported as result rows
    seed: int = 0  # fixed by the study's (seed, cycle): seeds a strategy's own generators (BADGE's sampling)
    scores: torch.Tensor | None = None  # (S,) a ScoreStrategy's scores of the subset, left by its query (labeling.py writes them)

    @contextmanager
    def timed(self, phase: str):
        if self.subset.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        yield
        if self.subset.is_cuda:
            torch.cuda.synchronize()
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start

    @torch.no_grad()
    def map_pool(self, index: torch.Tensor, fn: Callable, mc_dropout: bool = False,
                 with_targets: bool = False) -> torch.Tensor:
        """Concatenate fn(ModelOutput) over pool items `index`, in eval mode, without augmentation;
        `mc_dropout`: the dropout layers alone sample (batch-norm keeps its running statistics);
        `with_targets`: fn(ModelOutput, targets) -- the items' labels, which only an oracle reads.
        Every module's train/eval mode is restored afterwards. The model runs in the precision and
        layout it trains and is evaluated in (precision.py); `fn` sees its output and embedding in
        float32 and its feature maps as computed, as a loss head does in training."""
        modes = {module: module.training for module in self.model.modules()}
        self.model.eval()
        if mc_dropout:
            for module in self.model.modules():
                if isinstance(module, nn.modules.dropout._DropoutNd):
                    module.train()
        try:
            parts = []
            for inputs, targets in self.data.train_batches(index.split(self.params.eval_batch_size), augment=False):
                with autocast(self.params, inputs.device):
                    output = self.model(prepare(inputs, self.params))
                output = output._replace(output=output.output.float(), embedding=output.embedding.float())
                parts.append((fn(output, targets) if with_targets else fn(output)).float())
            return torch.cat(parts)
        finally:
            for module, training in modes.items():
                module.train(training)


class Strategy:
    name = ""
    predicts_loss = False  # True: predicted_loss() exists and its test Spearman is recorded
    oracle = False  # True: it reads the labels of unlabeled items -- a bound for the others, never a competitor

    def __init__(self, params, task, model: torch.nn.Module, device):
        self.params, self.task, self.device = params, task, torch.device(device)

    @classmethod
    def check_params(cls, params) -> None:
        """Raise config.ParamsError for params this strategy cannot run with (before any work)."""

    # --- training hooks: no-ops for strategies that train nothing alongside the target
    @classmethod
    def check_data(cls, params, data) -> None:
        """Raise config.ParamsError for loaded data this strategy cannot work on (before any training)."""

    def begin_cycle(self) -> None:
        pass

    def head_loss(self, output, per_sample_loss: torch.Tensor, epoch: int) -> torch.Tensor | None:
        return None

    def zero_grad(self) -> None:
        pass

    def step(self) -> None:
        pass

    def end_epoch(self) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def weights_used(self) -> dict:
        """Pretrained files this strategy's results depend on: name -> {"file", "sha256"} (provenance)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def query(self, ctx: QueryContext, budget: int) -> torch.Tensor:
        """-> LongTensor of `budget` distinct positions into ctx.subset."""
        raise NotImplementedError


class ClassificationOnly:
    """Mixin of the methods defined on class probabilities: the regression tasks are refused."""

    @classmethod
    def check_params(cls, params) -> None:
        task = get_dataset(params.dataset).task
        if task != "classification":
            raise ParamsError(f"strategies[{params.strategies.index(cls.name)}]",
                              f"{cls.name} is defined for classification only, and {params.dataset} is a {task}"
                              f" task; remove {cls.name}")


class ScoreStrategy(Strategy):
    """Scoring kept apart from choosing: pick the top-`budget` scores of the subset."""

    def score(self, ctx: QueryContext) -> torch.Tensor:
        """(S,) score per subset item; higher = more worth labeling."""
        raise NotImplementedError

    def query(self, ctx, budget):
        with ctx.timed("score"):
            ctx.scores = self.score(ctx)
        with ctx.timed("select"):
            return torch.topk(ctx.scores, budget).indices
