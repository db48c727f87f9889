"""The loss oracle (strategies/oracle_loss.py): the highest true loss under the current model,
on classification, pose and crowd counting; it reads the labels, the others do not."""
import numpy as np
import pytest
import torch

from helpers import forward, query, scrambled_labels, top
from l2ral_lib import loop
from l2ral_lib.strategies import QueryContext


def cross_entropy_by_hand(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def test_oracle_takes_the_highest_true_cross_entropy(trained):
    study, _, subset, _ = trained
    logits = forward(trained, "oracle-loss").output.double().numpy()
    losses = cross_entropy_by_hand(logits, study.data.train_labels[subset].numpy())
    assert query(trained, "oracle-loss") == top(losses)
    assert query(trained, "oracle-loss") != top(-losses)  # not the lowest


def test_oracle_reads_the_labels_and_so_differs_from_a_label_free_ranking(trained):
    """Scrambled labels change its picks (to the top losses under the scrambled labels), while the
    label-free ranking of the same model's outputs -- entropy -- cannot move."""
    study, labeled, subset, _ = trained
    scrambled = scrambled_labels(study, labeled)
    picks = query(trained, "oracle-loss", scrambled)
    assert picks != query(trained, "oracle-loss")
    logits = forward(trained, "oracle-loss").output.double().numpy()
    assert picks == top(cross_entropy_by_hand(logits, scrambled.train_labels[subset].numpy()))
    assert query(trained, "entropy", scrambled) == query(trained, "entropy")


@pytest.fixture(scope="module")
def regression_studies(tmp_path_factory):
    """{profile: study} of the generated pose and crowd ci profiles (data written on first use)."""
    from helpers import ROOT
    from l2ral_lib.checks import load_params

    root = tmp_path_factory.mktemp("regression")
    return {name: loop.open_study(load_params(ROOT / "params" / f"{name}.yaml", {"data_root": str(root / "data")}),
                                  "cpu", root / name, progress=False)
            for name in ("mpii-ci", "shanghaitech-ci")}


def pose_loss_by_hand(heatmaps: np.ndarray, target: dict) -> np.ndarray:
    """Simple Baselines' JointsMSELoss per sample: 0.5 x mean over pixels of ((out - gt) x w)^2, mean over joints."""
    weights = target["weights"].double().numpy()[:, :, None, None]
    diff = (heatmaps - target["heatmaps"].double().numpy()) * weights
    return 0.5 * (diff ** 2).reshape(*diff.shape[:2], -1).mean(2).mean(1)


def density_loss_by_hand(density: np.ndarray, target: torch.Tensor) -> np.ndarray:
    """C^3's pixel MSE of the density map, per sample."""
    return ((density - target.double().numpy()) ** 2).reshape(len(density), -1).mean(1)


@pytest.mark.parametrize("profile, by_hand", [("mpii-ci", pose_loss_by_hand),
                                              ("shanghaitech-ci", density_loss_by_hand)])
def test_oracle_takes_the_highest_true_loss_on_the_regression_tasks(regression_studies, profile, by_hand):
    """Each subset item's loss under the current model, computed here from its targets (eval mode, no
    augmentation): the oracle's picks are their top-k on pose heatmaps and crowd density maps alike."""
    study = regression_studies[profile]
    params, budget = study.params, study.params.query_size
    labeled = loop.initial_labeled_set(0, study.data.n_pool, params.initial_labeled)
    subset = loop.query_subset(0, 0, labeled, study.data.n_pool, params.subset_size)
    model, strategy = study.build("oracle-loss", 0)
    torch.manual_seed(0)
    loop.train_cycle(model, strategy, study.data, study.task, labeled, params, where=profile, progress=False)
    ctx = QueryContext(model=model, data=study.data, task=study.task, params=params, labeled=labeled, subset=subset)
    picks = strategy.query(ctx, budget).tolist()
    inputs, targets = study.data.train_batch(subset, augment=False)
    with torch.no_grad():
        losses = by_hand(model.eval()(inputs).output.double().numpy(), targets)
    assert len(np.unique(losses)) == len(losses)
    assert picks == np.argsort(-losses, kind="stable")[:budget].tolist()
