"""The strategy protocol and registry (strategies/base.py): every registered strategy runs a ci study, none
but the oracle reads the labels of unlabeled samples. What each strategy selects is in its own file
(test_<strategy>.py), against an independent computation of the right answer:

A study trains cycle 0 on the ci profile; then each strategy queries a subset of the pool and its
picks are compared with a brute-force answer computed here in numpy from the trained model (entropy:
softmax entropy; loss heads: the head's formula applied by hand; VAAL: a stubbed discriminator;
core-set: brute-force k-center; random: the shared order; the loss oracle: each item's loss by hand,
on every task). A strategy that picked the *lowest* scores, ignored its discriminator or read the labels
of unlabeled samples fails here -- except the oracle, which must read them.
"""
import pytest

from helpers import query, scrambled_labels
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import load_selected
from l2ral_lib.strategies import get_strategy, list_strategies


@pytest.mark.parametrize("method", [m for m in list_strategies() if not get_strategy(m).oracle])
def test_no_strategy_reads_the_labels_of_unlabeled_samples(trained, method):
    study, labeled, _, _ = trained
    assert query(trained, method, scrambled_labels(study, labeled)) == query(trained, method)


def test_oracles_are_exactly_the_strategies_marked_so():
    assert [m for m in list_strategies() if get_strategy(m).oracle] == ["oracle-loss"]


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
