"""The randomness rule that makes the methods of a seed comparable (seeds.py): the initial set and
the shared query subsets, pinned by the shipped study's Random picks."""
import json

import pytest
import torch

from l2ral_lib.outputs import load_selected
from l2ral_lib.seeds import derive_seed, initial_labeled_set, query_subset


def test_subsets_shared_across_methods():
    labeled = initial_labeled_set(3, 500, 50)
    first = query_subset(3, 0, labeled, 500, 100)
    assert torch.equal(first, query_subset(3, 0, labeled.flip(0), 500, 100))  # same set, same subset
    assert not set(first.tolist()) & set(labeled.tolist())
    # another method labeled other items: its subset is the same shared order minus its own labels
    other = torch.cat([labeled, first[:10]])
    second = query_subset(3, 0, other, 500, 100)
    assert torch.equal(second[:90], first[10:])
    assert not torch.equal(query_subset(3, 1, labeled, 500, 100), first)  # fresh draw per cycle


def test_initial_set_and_subsets_depend_on_the_seed():
    assert not torch.equal(initial_labeled_set(0, 500, 50), initial_labeled_set(1, 500, 50))
    labeled = initial_labeled_set(0, 500, 50)
    assert not torch.equal(query_subset(0, 0, labeled, 500, 100), query_subset(1, 0, labeled, 500, 100))
    # the subset's order is not the initial set's order with the labeled items removed
    order = torch.randperm(500, generator=torch.Generator().manual_seed(derive_seed(0, "initial")))
    assert not torch.equal(query_subset(0, 0, labeled, 500, 100), order[50:150])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_random_slices_follow_from_the_seed_derivation(seed):
    """Every shipped study starts from initial_labeled_set and queries within query_subset; Random takes the
    subset's first items. A changed seed derivation (salt, byte order, dropped part) would silently move
    every study away from the numbers it ships: the shipped CIFAR-10 smoke study's Random picks pin it."""
    from helpers import ROOT

    study = ROOT / "outputs" / "cifar10-smoke"
    params = json.loads((study / "params.json").read_text())
    selected = load_selected(study, "random", seed)
    n_pool = 50000  # the CIFAR-10 training set (pool_size: null)
    labeled = initial_labeled_set(seed, n_pool, params["initial_labeled"])
    assert selected[0] == labeled.tolist()
    for cycle in range(1, len(selected)):
        subset = query_subset(seed, cycle - 1, labeled, n_pool, params["subset_size"])
        assert selected[cycle] == subset[:params["query_size"]].tolist(), f"cycle {cycle}"
        labeled = torch.cat([labeled, subset[:params["query_size"]]])


def test_subset_none_is_whole_unlabeled_pool():
    labeled = initial_labeled_set(0, 50, 10)
    assert sorted(query_subset(0, 0, labeled, 50, None).tolist()) == sorted(set(range(50)) - set(labeled.tolist()))
