"""Core-set (strategies/coreset.py): k-center greedy against brute force, and its picks on the trained model."""
import pytest
import torch

from helpers import BUDGET, brute_force_kcenter, query
from l2ral_lib.strategies.coreset import kcenter_greedy


@pytest.mark.parametrize("n,m,d,budget", [(50, 5, 3, 10), (200, 40, 16, 25), (30, 1, 2, 30)])
def test_kcenter_greedy_matches_brute_force(n, m, d, budget):
    generator = torch.Generator().manual_seed(n + m)
    pool, labeled = torch.randn(n, d, generator=generator), torch.randn(m, d, generator=generator)
    picks = kcenter_greedy(pool, labeled, budget)
    assert picks.dtype == torch.long and len(set(picks.tolist())) == budget
    assert picks.tolist() == brute_force_kcenter(pool, labeled, budget)


def test_kcenter_greedy_chunks_large_labeled_sets(monkeypatch):
    from l2ral_lib.strategies import coreset

    monkeypatch.setattr(coreset, "CHUNK", 7)  # forces many blocks
    generator = torch.Generator().manual_seed(1)
    pool, labeled = torch.randn(60, 4, generator=generator), torch.randn(50, 4, generator=generator)
    assert kcenter_greedy(pool, labeled, 12).tolist() == brute_force_kcenter(pool, labeled, 12)


def test_kcenter_greedy_budget_beyond_pool():
    with pytest.raises(ValueError, match="exceeds"):
        kcenter_greedy(torch.zeros(3, 2), torch.zeros(1, 2), 4)


def test_kcenter_greedy_duplicates_never_picked_twice():
    pool = torch.zeros(5, 2)
    assert sorted(kcenter_greedy(pool, torch.ones(1, 2), 5).tolist()) == [0, 1, 2, 3, 4]


def test_coreset_is_kcenter_on_penultimate_features(trained):
    study, labeled, subset, built = trained
    model = built["coreset"][0].eval()
    with torch.no_grad():
        embed = lambda index: model(study.data.train_batch(index, augment=False)[0]).embedding  # noqa: E731
        expected = brute_force_kcenter(embed(subset), embed(labeled), BUDGET)
    assert query(trained, "coreset") == expected
