"""What each strategy selects, against an independent computation of the right answer.

A study trains cycle 0 on the ci profile; then each strategy queries a subset of the pool and its
picks are compared with a brute-force answer computed here in numpy from the trained model (entropy:
softmax entropy; loss heads: the head's formula applied by hand; VAAL: a stubbed discriminator;
core-set: brute-force k-center; random: the shared order; the loss oracle: each item's loss by hand,
on every task). A strategy that picked the *lowest* scores, ignored its discriminator or read the labels
of unlabeled samples fails here -- except the oracle, which must read them.
"""
import copy

import numpy as np
import pytest
import torch

from l2ral_lib import loop, seeds
from l2ral_lib.strategies import QueryContext, get_strategy, list_strategies
from l2ral_lib.strategies.vaal import VAAL
from helpers import brute_force_kcenter

BUDGET = 10


@pytest.fixture(scope="module")
def trained(tiny_data_root, tmp_path_factory):
    """(study, labeled, subset, {method: (model, strategy)}) after cycle 0 of every strategy."""
    from helpers import ROOT
    from l2ral_lib.checks import load_params

    # lr 0.01: the ci profile's 0.1 drives this width-4 model to logits in the thousands, where every
    # softmax entropy is 0 and no ranking is left to check
    # dropout 0.5: BALD samples it (the model of every method has it; eval-mode scoring passes through it)
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root), "lr": 0.01,
                                                                "dropout": 0.5, "strategies": list_strategies()})
    study = loop.open_study(params, "cpu", tmp_path_factory.mktemp("selection"), progress=False)
    labeled = seeds.initial_labeled_set(0, study.data.n_pool, params.initial_labeled)
    subset = seeds.query_subset(0, 0, labeled, study.data.n_pool, params.subset_size)
    built = {}
    for method in params.strategies:
        model, strategy = study.build(method, 0)
        torch.manual_seed(0)
        loop.train_cycle(model, strategy, study.data, study.task, labeled, params, where=method, progress=False)
        built[method] = (model, strategy)
    return study, labeled, subset, built


def query(trained, method, data=None):
    study, labeled, subset, built = trained
    model, strategy = (copy.deepcopy(part) for part in built[method])
    ctx = QueryContext(model=model, data=data or study.data, task=study.task, params=study.params, labeled=labeled,
                       subset=subset)
    torch.manual_seed(1)  # the query's own draws (VAAL's training) equal in every call
    return strategy.query(ctx, BUDGET).tolist()


def forward(trained, method):
    """The trained model of `method` on the subset, eval mode, no augmentation: ModelOutput."""
    study, _, subset, built = trained
    model = built[method][0].eval()
    with torch.no_grad():
        return model(study.data.train_batch(subset, augment=False)[0])


def top(scores: np.ndarray) -> list[int]:
    """Positions of the BUDGET highest scores, highest first (no ties in these float scores)."""
    assert len(np.unique(scores)) == len(scores)
    return np.argsort(-scores, kind="stable")[:BUDGET].tolist()


def test_entropy_takes_the_highest_softmax_entropy(trained):
    logits = forward(trained, "entropy").output.double().numpy()
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    assert query(trained, "entropy") == top(-(np.exp(log_p) * log_p).sum(1))


def l2r_head_by_hand(head, features) -> np.ndarray:
    """GAP -> FC -> LeakyReLU(0.01) -> FC on the last block (paper Sec. III-C), in numpy."""
    w1, b1, w2, b2 = (t.detach().double().numpy() for t in (head.fc1.weight, head.fc1.bias, head.fc2.weight, head.fc2.bias))
    hidden = features[-1].double().numpy().mean((2, 3)) @ w1.T + b1
    return (np.where(hidden > 0, hidden, 0.01 * hidden) @ w2.T + b2)[:, 0]


def lossnet_by_hand(head, features) -> np.ndarray:
    """Per block GAP -> FC -> ReLU, concatenated, FC -> 1 (LL4AL), in numpy."""
    pooled = [np.maximum(f.double().numpy().mean((2, 3)) @ fc.weight.detach().double().numpy().T
                         + fc.bias.detach().double().numpy(), 0) for fc, f in zip(head.fcs, features)]
    w, b = head.out.weight.detach().double().numpy(), head.out.bias.detach().double().numpy()
    return (np.concatenate(pooled, 1) @ w.T + b)[:, 0]


@pytest.mark.parametrize("method, by_hand", [("l2r", l2r_head_by_hand), ("l2r-mse", l2r_head_by_hand),
                                             ("ll4al", lossnet_by_hand), ("l2r-all-features", lossnet_by_hand)])
def test_loss_heads_take_the_highest_predicted_loss(trained, method, by_hand):
    head = trained[3][method][1].head
    assert query(trained, method) == top(by_hand(head, forward(trained, method).features))


def test_coreset_is_kcenter_on_penultimate_features(trained):
    study, labeled, subset, built = trained
    model = built["coreset"][0].eval()
    with torch.no_grad():
        embed = lambda index: model(study.data.train_batch(index, augment=False)[0]).embedding  # noqa: E731
        expected = brute_force_kcenter(embed(subset), embed(labeled), BUDGET)
    assert query(trained, "coreset") == expected


def test_vaal_takes_what_the_discriminator_deems_least_likely_labeled(trained, monkeypatch):
    # stub: the VAE's "mean" is each image's mean pixel, the discriminator a sigmoid of it
    vae = lambda x: (x, x.flatten(1).mean(1, keepdim=True), torch.zeros(len(x), 1))  # noqa: E731
    disc = lambda mu: torch.sigmoid(mu[:, 0])  # noqa: E731
    monkeypatch.setattr(VAAL, "fit", lambda self, ctx, unlabeled: (vae, disc))
    study, _, subset, _ = trained
    means = study.data.train_batch(subset, augment=False)[0].double().flatten(1).mean(1).numpy()
    assert query(trained, "vaal") == top(-means)


def test_random_takes_the_first_items_of_the_shared_order(trained):
    assert query(trained, "random") == list(range(BUDGET))


def scrambled_labels(study, labeled):
    """A shallow copy of the study's data whose unlabeled items all carry another class."""
    scrambled = copy.copy(study.data)
    unlabeled = torch.ones(study.data.n_pool, dtype=torch.bool)
    unlabeled[labeled] = False
    positions = torch.nonzero(unlabeled).squeeze(1)
    labels = study.data.train_labels.clone()
    generator = torch.Generator().manual_seed(0)
    labels[positions] = (labels[positions] + 1 + torch.randint(0, 9, (len(positions),), generator=generator)) % 10
    assert (labels[positions] != study.data.train_labels[positions]).all()  # every one changed
    scrambled.train_labels = labels
    return scrambled


@pytest.mark.parametrize("method", [m for m in list_strategies() if not get_strategy(m).oracle])
def test_no_strategy_reads_the_labels_of_unlabeled_samples(trained, method):
    study, labeled, _, _ = trained
    assert query(trained, method, scrambled_labels(study, labeled)) == query(trained, method)


# ---------------------------------------------------------------- the loss oracle (issue 26 item 2)

def cross_entropy_by_hand(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def test_oracles_are_exactly_the_strategies_marked_so():
    assert [m for m in list_strategies() if get_strategy(m).oracle] == ["oracle-loss"]


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
