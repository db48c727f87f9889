"""What each strategy selects, against an independent computation of the right answer.

A study trains cycle 0 on the ci profile; then each strategy queries a subset of the pool and its
picks are compared with a brute-force answer computed here in numpy from the trained model (entropy:
softmax entropy; loss heads: the head's formula applied by hand; VAAL: a stubbed discriminator;
core-set: brute-force k-center; random: the shared order). A strategy that picked the *lowest*
scores, ignored its discriminator or read the labels of unlabeled samples fails here.
"""
import copy

import numpy as np
import pytest
import torch

from l2ral_lib import loop, seeds
from l2ral_lib.strategies import QueryContext, list_strategies
from l2ral_lib.strategies.vaal import VAAL
from test_strategies import brute_force_kcenter

BUDGET = 10


@pytest.fixture(scope="module")
def trained(tiny_data_root, tmp_path_factory):
    """(study, labeled, subset, {method: (model, strategy)}) after cycle 0 of every strategy."""
    from conftest import ROOT
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


@pytest.mark.parametrize("method", list_strategies())
def test_no_strategy_reads_the_labels_of_unlabeled_samples(trained, method):
    study, labeled, _, _ = trained
    scrambled = copy.copy(study.data)
    unlabeled = torch.ones(study.data.n_pool, dtype=torch.bool)
    unlabeled[labeled] = False
    positions = torch.nonzero(unlabeled).squeeze(1)
    labels = study.data.train_labels.clone()
    labels[positions] = (labels[positions] + 1 + torch.randint(0, 9, (len(positions),))) % 10  # every one changed
    assert (labels[positions] != study.data.train_labels[positions]).all()
    scrambled.train_labels = labels
    assert query(trained, method, scrambled) == query(trained, method)
