"""The import paths other code and checks rely on (DESIGN.md, "Contracts"): each must stay valid whatever
moves inside the package, and the semantics DESIGN states for them hold (cheaply pinned here; the module
tests pin them in full)."""
import importlib

import numpy as np
import pytest
import scipy.stats
import torch

import l2ral_lib

TOP_LEVEL = ["load_params", "Params", "ParamsError", "DataError", "run_study", "merge_results", "check_study",
             "get_strategy", "list_strategies", "load_sorter", "exact_ranks"]
PATHS = ["l2ral_lib.models.ModelOutput", "l2ral_lib.tasks.get_task", "l2ral_lib.tasks.spearman", "l2ral_lib.tasks.pckh",
         # the ranking objectives (RANK_LOSSES names them for Params.rank_loss) and the soft ranks
         "l2ral_lib.losses.RANK_LOSSES", "l2ral_lib.losses.ranking_loss", "l2ral_lib.losses.margin_ranking_loss",
         "l2ral_lib.losses.loss_mse", "l2ral_lib.losses.softrank_loss", "l2ral_lib.losses.diffsort_loss",
         "l2ral_lib.losses.soft_ranks",
         "l2ral_lib.strategies.get_strategy", "l2ral_lib.strategies.list_strategies", "l2ral_lib.strategies.QueryContext",
         "l2ral_lib.strategies.base.ScoreStrategy", "l2ral_lib.strategies.base.Strategy",
         "l2ral_lib.strategies.base.register_strategy", "l2ral_lib.strategies.coreset.kcenter_greedy",
         "l2ral_lib.strategies.bald.mutual_information"]
STRATEGIES = ["random", "entropy", "coreset", "ll4al", "vaal", "l2r"]


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_the_top_level_api_imports(name):
    assert name in l2ral_lib.__all__
    exec(f"from l2ral_lib import {name}", {})  # the form DESIGN writes, not only getattr


@pytest.mark.parametrize("name", l2ral_lib.__all__)
def test_every_name_of_all_resolves(name):
    assert getattr(l2ral_lib, name) is not None


@pytest.mark.parametrize("path", PATHS)
def test_each_contract_path_imports(path):
    assert resolve(path) is not None


@pytest.mark.parametrize("name", STRATEGIES)
def test_one_module_per_strategy_and_its_registered_name(name):
    importlib.import_module(f"l2ral_lib.strategies.{name}")
    assert name in l2ral_lib.list_strategies()
    assert issubclass(l2ral_lib.get_strategy(name), resolve("l2ral_lib.strategies.base.Strategy"))


def test_the_top_level_names_are_the_modules_own():
    """One owner per concept: the top level re-exports, it does not wrap."""
    from l2ral_lib import ranks, strategies

    assert l2ral_lib.exact_ranks is ranks.exact_ranks and l2ral_lib.get_strategy is strategies.get_strategy


def test_exact_ranks_are_ascending_and_normalised():
    assert l2ral_lib.exact_ranks(torch.tensor([3.0, 1.0, 2.0])).tolist() == pytest.approx([1.0, 1 / 3, 2 / 3])


def test_load_sorter_is_frozen_and_differentiable_in_its_input():
    sorter = l2ral_lib.load_sorter(4, kind="sodeep")
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    ranks = sorter(x)
    assert isinstance(sorter, torch.nn.Module) and ranks.shape == (3, 4)
    assert not any(p.requires_grad for p in sorter.parameters())
    ranks.sum().backward()
    assert x.grad is not None
    with pytest.raises(FileNotFoundError, match="python -m l2ral_lib sorter --kind sodeep --seq-len 5"):
        l2ral_lib.load_sorter(5, kind="sodeep")  # no shipped weights: the error says how to train them


def test_spearman_equals_scipys():
    from l2ral_lib.tasks import spearman

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    b[:10] = a[:10]  # some agreement, so the value is no near-zero coincidence
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(torch.tensor(a), torch.tensor(b)) == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)


def test_kcenter_greedy_takes_the_farthest_point_each_time():
    from l2ral_lib.strategies.coreset import kcenter_greedy

    pool = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [4.0, 0.0]])
    picks = kcenter_greedy(pool, torch.tensor([[0.0, 0.0]]), 3)
    assert picks.dtype == torch.long and picks.tolist() == [2, 3, 1]  # 10 from the labeled 0, then 4, then 1
