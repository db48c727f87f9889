"""The strategies' shared fixture: cycle 0 of every strategy trained once on the ci profile."""
import pytest
import torch

from l2ral_lib import loop, seeds
from l2ral_lib.strategies import list_strategies


@pytest.fixture(scope="session")  # trained once, as when one module held every test using it
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
