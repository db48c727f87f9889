"""One cycle's training (training.py): the target's learning-rate schedule (milestones times a per-epoch decay,
C^3's ShanghaiTech schedule); a NaN loss stops with method, seed, cycle and epoch, finished cycles kept."""
import math
import warnings

import pandas as pd
import numpy as np
import pytest
import torch

from helpers import ROOT
from l2ral_lib import training
from l2ral_lib.checks import load_params
from l2ral_lib.loop import run_study
from l2ral_lib.training import NumericalError, make_optimizer


def lrs_per_epoch(optimizer, scheduler, epochs):
    """The lr each epoch trains with, the scheduler stepped after each epoch as train_cycle does."""
    out = []
    for _ in range(epochs):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_schedule_is_multistep_times_exponential():
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"epochs": 9, "lr": 0.5, "lr_milestones": [5, 3],
                                                               "lr_gamma": 0.2, "lr_decay_per_epoch": 0.9})
    model = torch.nn.Linear(2, 1)
    ours = lrs_per_epoch(*make_optimizer(model, params), 9)
    # torch's own schedulers, each on its own optimizer, multiplied
    first, second = (torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.5) for _ in range(2))
    multistep = lrs_per_epoch(first, torch.optim.lr_scheduler.MultiStepLR(first, [3, 5], 0.2), 9)
    exponential = lrs_per_epoch(second, torch.optim.lr_scheduler.ExponentialLR(second, 0.9), 9)
    assert ours == pytest.approx([m * e / 0.5 for m, e in zip(multistep, exponential)], rel=1e-12)
    assert ours[0] == 0.5 and ours[3] == pytest.approx(0.5 * 0.2 * 0.9 ** 3)


def test_shanghaitech_paper_lr_is_c3s_decay():
    """C^3 (config.py LR 1e-5, LR_DECAY 0.995, NUM_EPOCH_LR_DECAY 1; trainer.py StepLR stepped at the
    start of every epoch, LR_DECAY_START -1): epoch e trains at 1e-5 * 0.995^(e+1). Here the decay
    follows each epoch, so epoch e trains at 1e-5 * 0.995^e: the same sequence one epoch later
    (declared in FIDELITY.md)."""
    params = load_params(ROOT / "params" / "shanghaitech-paper.yaml")
    ours = lrs_per_epoch(*make_optimizer(torch.nn.Linear(2, 1), params), params.epochs)
    optimizer = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=1e-5, weight_decay=1e-4)
    c3 = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.995)
    reference = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # C^3 steps the scheduler before the optimizer
        for _ in range(params.epochs):
            c3.step()
            reference.append(optimizer.param_groups[0]["lr"])
    assert ours[0] == 1e-5 and ours[1:] == pytest.approx(reference[:-1], rel=1e-9)
    assert params.weight_decay == 1e-4 and params.optimizer == "adam"  # C^3 trainer.py's Adam


def test_nan_loss_stops_with_method_seed_cycle_epoch_and_keeps_finished_cycles(ci_params, tmp_path, monkeypatch):
    params = ci_params(strategies=["random"])
    original = training.train_cycle
    calls = {"n": 0}

    def poisoned(model, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # cycle 1: weights become NaN, so the loss does too
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
        return original(model, *args, **kwargs)

    monkeypatch.setattr("l2ral_lib.loop.train_cycle", poisoned)
    with pytest.raises(NumericalError, match=r"method random, seed 0, cycle 1, epoch 0"):
        run_study(params, "cpu", tmp_path, progress=False)
    rows = pd.read_csv(tmp_path / "slices" / "random-seed0" / "rows.csv")
    assert set(rows.cycle) == {0}  # cycle 0 finished and kept
    monkeypatch.setattr("l2ral_lib.loop.train_cycle", original)
    table = run_study(params, "cpu", tmp_path, progress=False)  # a rerun resumes from cycle 1
    assert sorted(table[table.metric == "accuracy"].cycle) == list(range(params.n_cycles))


def test_one_pass_epoch_draws_exactly_the_plain_permutation():
    """min_epoch_samples unset (every paper profile): the order, and what the generator draws next, are the
    plain epoch's, so studies without the key repeat to the last digit."""
    labeled = torch.arange(100, 137)
    torch.manual_seed(3)
    plain, after = labeled[torch.randperm(len(labeled))], torch.rand(1)
    for min_samples in (None, 10, 37):
        torch.manual_seed(3)
        assert torch.equal(training.epoch_order(labeled, min_samples), plain) and torch.equal(torch.rand(1), after)


@pytest.mark.parametrize("n,min_samples,passes", [(20, 100, 5), (60, 100, 2), (100, 100, 1), (7, 8, 2)])
def test_a_short_epoch_is_whole_fresh_permutations_until_long_enough(n, min_samples, passes):
    labeled = torch.arange(1000, 1000 + n)
    torch.manual_seed(0)
    order = training.epoch_order(labeled, min_samples)
    torch.manual_seed(0)
    expected = [labeled[torch.randperm(n)] for _ in range(passes)]
    assert torch.equal(order, torch.cat(expected))
    assert len(order) == n * passes >= min_samples > n * (passes - 1)
    assert sorted(order.tolist()) == sorted(labeled.tolist() * passes)


def test_min_epoch_samples_sets_the_steps_of_a_cycle(ci_params, tmp_path, monkeypatch):
    """Every epoch of every cycle takes ceil(len(order) / batch) optimizer steps, order as long as asked."""
    params = ci_params(strategies=["random"], min_epoch_samples=50)
    steps = []
    original = torch.optim.SGD.step

    def counted(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", counted)
    run_study(params, "cpu", tmp_path, progress=False)
    sizes = [params.labeled_at(c) for c in range(params.n_cycles)]
    assert sizes == [20, 30, 40] and params.batch_size == 4
    per_epoch = [math.ceil(math.ceil(50 / n) * n / 4) for n in sizes]  # 3 x 20, 2 x 30, 2 x 40 samples
    assert per_epoch == [15, 15, 20]
    assert len(steps) == params.epochs * sum(per_epoch)


def fixed_test_pass(outputs: torch.Tensor, targets):
    """A model whose output for the test items `index` is outputs[index], and a test set of `targets`: an
    evaluation whose every value is known in advance."""
    from types import SimpleNamespace

    from l2ral_lib.models import ModelOutput

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))  # a parameter: the evaluation reads its device

        def forward(self, index):
            return ModelOutput(outputs[index] + self.w, [], None)

    data = SimpleNamespace(n_test=len(outputs), test_batches=lambda indices: ((i, targets[i]) for i in indices))
    return Fixed(), data


def test_entropy_spearman_is_the_models_own_entropy_ranked_against_its_true_losses(ci_params):
    """Fig. 5's free ranker: on a model whose logits are known, spearman_entropy equals scipy's rank
    correlation of the softmax entropy with the cross-entropy, batch boundaries notwithstanding."""
    import scipy.stats

    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import get_task

    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(23, 10, generator=generator) * 3, torch.randint(0, 10, (23,), generator=generator)
    model, data = fixed_test_pass(logits, labels)
    params = ci_params(entropy_spearman=True, eval_batch_size=5)
    task = get_task("classification")
    metrics = training.evaluate(model, get_strategy("random")(params, task, None, "cpu"), data, task, params).metrics
    probabilities = logits.softmax(1)
    entropy = -(probabilities * probabilities.log()).sum(1)
    losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    assert metrics["spearman_entropy"] == pytest.approx(scipy.stats.spearmanr(entropy, losses).statistic, abs=1e-12)
    assert "spearman" not in metrics  # random predicts no loss
    off = ci_params(eval_batch_size=5)
    assert "spearman_entropy" not in training.evaluate(model, get_strategy("random")(off, task, None, "cpu"), data,
                                                       task, off).metrics


def test_evaluate_gives_each_test_items_values_from_the_same_pass(ci_params):
    """A counting task's per-item counts (annotated, predicted) in test-index order across batch boundaries,
    against numpy sums of the fixed density maps; the MAE of the same pass is their mean absolute error."""
    from l2ral_lib.strategies import get_strategy
    from l2ral_lib.tasks import get_task

    generator = torch.Generator().manual_seed(1)
    maps = torch.rand(7, 1, 4, 4, generator=generator) * 50
    targets = torch.rand(7, 1, 4, 4, generator=generator) * 80
    model, data = fixed_test_pass(maps, targets)
    params = ci_params(eval_batch_size=3)
    task = get_task("crowd_counting")
    strategy = get_strategy("random")(params, task, None, "cpu")
    evaluation = training.evaluate(model, strategy, data, task, params, items=True)
    count = np.round(targets.double().numpy().reshape(7, -1).sum(1) / task.log_para)
    predicted = maps.double().numpy().reshape(7, -1).sum(1) / task.log_para
    items = evaluation.items
    assert list(items.test_index) == list(range(7))
    np.testing.assert_allclose(items["count"], count)
    np.testing.assert_allclose(items.predicted_count, predicted, rtol=1e-6)
    assert evaluation.metrics["mae"] == pytest.approx(np.abs(predicted - count).mean(), rel=1e-6)
    assert training.evaluate(model, strategy, data, task, params).items is None
