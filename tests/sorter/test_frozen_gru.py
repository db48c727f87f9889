"""The frozen GRU's hand-written input gradient against autograd through PyTorch's own GRU."""
import copy

import pytest
import torch
from torch import nn

from l2ral_lib.sorter import load_sorter
from l2ral_lib.sorter.frozen_gru import frozen_gru

CONFIGS = [  # (input size, hidden, layers, bidirectional)
    (1, 5, 1, False), (1, 4, 3, True), (3, 6, 2, True), (2, 3, 2, False)]


def frozen(config, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    rnn = nn.GRU(config[0], config[1], num_layers=config[2], bidirectional=config[3], batch_first=True)
    return rnn.to(dtype).requires_grad_(False)


def autograd_gradient(rnn, x, upstream):
    """d(sum(upstream * rnn(x))) / dx by autograd through nn.GRU (a trainable copy: the reference path)."""
    x = x.detach().clone().requires_grad_(True)
    (copy.deepcopy(rnn).requires_grad_(True)(x)[0] * upstream).sum().backward()
    return x.grad


@pytest.mark.parametrize("config", CONFIGS)
def test_forward_is_pytorchs_gru_bit_for_bit(config):
    rnn = frozen(config)
    x = torch.randn(2, 7, config[0], requires_grad=True)
    assert torch.equal(frozen_gru(rnn, x), rnn(x)[0])


@pytest.mark.parametrize("config", CONFIGS)
def test_input_gradient_equals_autograd_in_float64(config):
    rnn = frozen(config, torch.float64)
    x = torch.randn(3, 9, config[0], dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 9, config[1] * (2 if config[3] else 1), dtype=torch.float64)
    (frozen_gru(rnn, x) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, autograd_gradient(rnn, x, upstream), rtol=1e-10, atol=1e-12)


def test_gradient_of_a_single_time_step():
    """T = 1: no recursion, only the input path of each layer."""
    rnn = frozen((2, 4, 2, True), torch.float64)
    x = torch.randn(2, 1, 2, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 1, 8, dtype=torch.float64)
    (frozen_gru(rnn, x) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, autograd_gradient(rnn, x, upstream), rtol=1e-10, atol=1e-12)


def test_trainable_weights_and_graph_free_calls_take_pytorchs_path():
    """A sorter in training needs its weights' gradients; outside a graph there is nothing to record."""
    torch.manual_seed(0)
    rnn = nn.GRU(1, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 1)
    frozen_gru(rnn, x).sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in rnn.parameters())
    rnn.requires_grad_(False)
    with torch.no_grad():
        assert torch.equal(frozen_gru(rnn, x.requires_grad_(True)), rnn(x)[0])
    assert frozen_gru(rnn, x.detach()).grad_fn is None


@pytest.mark.parametrize("kind", ["sodeep", "gru"])
def test_shipped_sorter_gradient_equals_autograd(kind):
    """The L2R-AL training signal itself: the gradient of a list's ranks w.r.t. the predicted losses."""
    sorter = load_sorter(64, kind=kind)
    net = sorter.net
    torch.manual_seed(1)
    x = (torch.randn(2, 64) * 0.3 + 2).requires_grad_(True)
    upstream = torch.randn(2, 64)
    (sorter(x) * upstream).sum().backward()
    fast = x.grad
    reference_net = copy.deepcopy(net).requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    (reference_net(x_ref) * upstream).sum().backward()
    torch.testing.assert_close(fast, x_ref.grad, rtol=1e-4, atol=1e-6)


def cudnn_seen(rnn):
    """Record torch.backends.cudnn.enabled each time the GRU's own forward runs (a forward hook)."""
    seen = []
    rnn.register_forward_hook(lambda *_: seen.append(torch.backends.cudnn.enabled))
    return seen


@pytest.mark.parametrize("kind", ["sodeep", "gru"])
def test_the_sorter_runs_its_forward_under_cudnn_and_its_input_gradient_batched(kind):
    """cuDNN is off only where autograd differentiates PyTorch's GRU in eval mode, not for the whole net:
    the no-grad forward (scoring) runs PyTorch's stacked GRU with cuDNN on; the training forward goes
    through the batched path (its own backward); outputs equal to float tolerance either way."""
    sorter = load_sorter(64, kind=kind)
    rnn = sorter.net.rnn if kind == "sodeep" else sorter.net.gru
    seen = cudnn_seen(rnn)
    x = torch.randn(3, 64) * 0.3 + 2
    with torch.no_grad():
        plain = sorter(x)
    assert seen == [True]
    graph = sorter(x.clone().requires_grad_(True))
    assert seen == [True] and graph.grad_fn is not None  # the batched path: nn.GRU's forward not called
    torch.testing.assert_close(graph.detach(), plain, rtol=1e-5, atol=1e-6)


def test_cudnn_is_off_where_autograd_differentiates_an_eval_mode_gru():
    """cuDNN's RNN backward refuses eval mode: the unbatchable frozen GRU (not batch_first) and an eval-mode
    GRU with trainable weights (bench.py's autograd baseline) run without it; one in training keeps it."""
    torch.manual_seed(0)
    rnn = nn.GRU(1, 4, num_layers=2, bidirectional=True).eval().requires_grad_(False)
    seen = cudnn_seen(rnn)
    frozen_gru(rnn, torch.randn(5, 2, 1, requires_grad=True)).sum().backward()
    rnn.requires_grad_(True)
    frozen_gru(rnn, torch.randn(5, 2, 1)).sum().backward()
    rnn.train()
    frozen_gru(rnn, torch.randn(5, 2, 1)).sum().backward()
    assert seen == [False, False, True]
