"""params `compile`: every training step traces as one graph (what lets `reduce-overhead` capture it whole
as CUDA graphs), the compiled step trains exactly as the eager one, and only full batches go through it.

On a CPU the capture itself cannot run (tests/e2e/test_gpu.py does, on a GPU); what decides whether it can
is the trace: a graph break would split the step into pieces with eager Python between them. So the
compiler here is AOTAutograd with a counting, eager-executing backend, `fullgraph=True` (a break raises):
the forward and backward graphs a GPU would record, counted, run op for op as eager runs them.
"""
import pytest
import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

from l2ral_lib import loop, seeds
from l2ral_lib.checks import from_dict, load_params
from l2ral_lib.compilation import describe
from l2ral_lib.errors import ParamsError
from l2ral_lib.strategies import QueryContext, get_strategy, list_strategies

from helpers import ROOT

# the differentiable sorting network (the diffsort package) breaks the trace, inside the ranking path's
# autocast-suspending context, where Dynamo cannot resume: its step compiles in several pieces (BENCHMARKS.md)
BREAKS = {"l2r-diffsort"}


class Counter:
    """A torch.compile backend: AOTAutograd's forward and backward graphs, counted and run eagerly."""

    def __init__(self):
        self.forward_graphs = self.backward_graphs = self.forward_calls = 0
        self.fullgraph = True  # a graph break raises

    def backend(self):
        def forward(graph, _):
            self.forward_graphs += 1

            def run(args):
                self.forward_calls += 1
                return graph(*args)

            run._boxed_call = True
            return run

        def backward(graph, _):
            self.backward_graphs += 1
            return make_boxed_func(graph.forward)

        return aot_autograd(fw_compiler=forward, bw_compiler=backward)


@pytest.fixture
def counted(monkeypatch):
    """torch.compile replaced by the counting backend, breaks refused unless the test says; the Counter."""
    counter, real = Counter(), torch.compile
    torch._dynamo.reset()
    monkeypatch.setattr(torch, "compile", lambda function, mode=None: real(function, backend=counter.backend(),
                                                                          fullgraph=counter.fullgraph))
    yield counter
    torch._dynamo.reset()


def train(params, method, out, labeled):
    """(model, strategy) after one cycle of `method` on pool items `labeled` (seed 0's initial weights)."""
    study = loop.open_study(params, "cpu", out, progress=False)
    model, strategy = study.build(method, 0)
    torch.manual_seed(0)
    loop.train_cycle(model, strategy, study.data, study.task, labeled, params, where=method, progress=False)
    return model, strategy


def states(model, strategy) -> dict:
    return {**{f"model.{k}": v for k, v in model.state_dict().items()},
            **{f"strategy.{k}": v for k, v in strategy.state_dict().items() if isinstance(v, torch.Tensor)}}


# every head's step, and the plain step the methods without a head share (their head_loss is None)
STEPS = sorted({m for m in list_strategies() if get_strategy(m).predicts_loss} - BREAKS) + ["random"]


@pytest.mark.parametrize("method", STEPS)
def test_training_step_is_one_graph_and_trains_as_eager(method, ci_params, counted, tmp_path):
    # 22 labeled at batch 4: five full batches per epoch through the compiled step, and a short one of 2
    labeled = torch.arange(22)
    eager = train(ci_params(strategies=[method], dropout=0.3), method, tmp_path / "eager", labeled)
    assert counted.forward_graphs == 0
    params = ci_params(strategies=[method], dropout=0.3, compile="reduce-overhead")
    graphed = train(params, method, tmp_path / "graphed", labeled)
    # one forward and one backward graph per distinct trace; a second only where the head detaches
    # the target's features from an epoch on (LL4AL's schedule): nothing is traced again per batch
    detaching = method in ("ll4al", "ll4al-early-detach", "l2r-joint")
    assert counted.forward_graphs == counted.backward_graphs == (2 if detaching else 1)
    assert counted.forward_calls == 5 * params.epochs  # the short batches ran eagerly
    expected, got = states(*eager), states(*graphed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), f"{method}: {key} differs from the eager step's"


@pytest.mark.parametrize("method", sorted(BREAKS))
def test_a_step_with_a_break_compiles_in_pieces_and_trains_as_eager(method, ci_params, counted, tmp_path):
    labeled = torch.arange(20)
    eager = train(ci_params(strategies=[method]), method, tmp_path / "eager", labeled)
    counted.fullgraph = False
    graphed = train(ci_params(strategies=[method], compile=True), method, tmp_path / "graphed", labeled)
    assert counted.forward_graphs > 1
    expected, got = states(*eager), states(*graphed)
    assert all(torch.equal(expected[key], got[key]) for key in expected)


def vaal_picks(params, out):
    """VAAL's picks of the first query of seed 0 (its VAE and discriminator fitted on the initial set)."""
    study = loop.open_study(params, "cpu", out, progress=False)
    model, strategy = study.build("vaal", 0)
    labeled = seeds.initial_labeled_set(0, study.data.n_pool, params.initial_labeled)
    subset = seeds.query_subset(0, 0, labeled, study.data.n_pool, params.subset_size)
    torch.manual_seed(0)
    ctx = QueryContext(model=model, data=study.data, task=study.task, params=params, labeled=labeled, subset=subset,
                       timings={}, seed=0)
    return strategy.query(ctx, params.query_size)


def test_vaal_steps_are_one_graph_each_and_fit_as_eager(ci_params, counted, tmp_path):
    # 20 labeled at batch 8: full labeled batches only (drop_last); the 100 unlabeled make passes of 12 full
    # batches and a short one of 4, so 7 iterations (14 VAE steps) meet one short batch, at the 13th step
    settings = dict(strategies=["vaal"], vaal_iterations=7, vaal_batch_size=8)
    eager = vaal_picks(ci_params(**settings), tmp_path / "eager")
    graphed = vaal_picks(ci_params(**settings, compile="reduce-overhead"), tmp_path / "graphed")
    assert counted.forward_graphs == counted.backward_graphs == 2  # the VAE step's and the discriminator's
    assert counted.forward_calls == 13 + 7  # every VAE step but the short batch's, every discriminator step
    assert torch.equal(eager, graphed)


def test_compile_settings(ci_params):
    assert describe(ci_params()) == ""
    assert "CUDA graphs" in describe(ci_params(compile="reduce-overhead"))
    raw = load_params(ROOT / "params" / "cifar10-ci.yaml").to_dict()
    with pytest.raises(ParamsError, match="compile.*reduce-overhead"):
        from_dict({**raw, "compile": "max-autotune"})
