"""Every registered strategy, on the ci profile, plus the pieces with exact answers."""

import pytest
import torch

from l2ral_lib.loop import run_study
from l2ral_lib.outputs import load_selected
from l2ral_lib.strategies import get_strategy, list_strategies
from l2ral_lib.strategies.coreset import kcenter_greedy
from l2ral_lib.tasks import Classification, softmax_entropy
from helpers import brute_force_kcenter


def test_registry_has_the_paper_methods_and_ablations():
    assert {"random", "entropy", "coreset", "vaal", "ll4al", "l2r", "l2r-all-features", "l2r-mse"} <= set(list_strategies())
    with pytest.raises(KeyError, match="known"):
        get_strategy("nope")


NEEDS = {"bald": {"dropout": 0.5}}  # BALD samples a dropout layer, which the ci model has only when asked


@pytest.mark.parametrize("name", list_strategies())
def test_every_strategy_runs_a_ci_study(name, ci_params, tmp_path):
    params = ci_params(strategies=[name], **NEEDS.get(name, {}))
    table = run_study(params, "cpu", tmp_path, progress=False)
    accuracy = table[table.metric == "accuracy"]
    assert len(accuracy) == params.n_cycles and accuracy.value.between(0, 100).all()
    selected = load_selected(tmp_path, name, 0)
    picked = [i for c in range(1, params.n_cycles) for i in selected[c]]
    assert len(picked) == len(set(picked)) == params.max_labeled - params.initial_labeled
    assert not set(picked) & set(selected[0])
    if get_strategy(name).predicts_loss:
        spearman = table[table.metric == "spearman"].value
        assert len(spearman) == params.n_cycles and spearman.between(-1, 1).all()


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


def test_softmax_entropy():
    uniform = torch.zeros(1, 10)
    assert torch.allclose(softmax_entropy(uniform), torch.tensor([torch.log(torch.tensor(10.0))]))
    confident = torch.tensor([[100.0, 0, 0]])
    assert softmax_entropy(confident).item() < 1e-6
    probs = torch.tensor([0.5, 0.25, 0.25])
    assert torch.allclose(softmax_entropy(probs.log()[None]), -(probs * probs.log()).sum()[None])
    assert Classification().entropy(torch.tensor([[2.0, 1.0], [5.0, -5.0]])).argmax() == 0
