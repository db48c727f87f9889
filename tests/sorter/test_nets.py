"""The sorter networks (sorter/nets.py): SoDeep's gru_constrained, the frozen wrapper's shape,
gradient and invariances."""
import pytest
import torch

from helpers import SHIPPED_PAIRS
from l2ral_lib.sorter import KINDS, build_sorter, load_sorter


def test_sodeep_network_is_gru_constrained():
    net = build_sorter("sodeep")
    rnn = net.rnn
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional) == (1, 32, 6, True)
    assert sum(p.numel() for p in net.parameters()) == 100_800  # model.py gru_constrained: GRU(1, 32, 6) only
    x = 0.3 * torch.randn(3, 5, generator=torch.Generator().manual_seed(0))  # sd < the floor 1: centred only
    states, _ = rnn(torch.sigmoid((x - x.mean(-1, keepdim=True)).unsqueeze(-1) / 2 + 1))
    assert torch.allclose(net(x), torch.sigmoid(states.sum(-1)), atol=1e-6)


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_shipped_sorter_is_frozen_and_shaped(kind, n):
    sorter = load_sorter(n, kind)
    assert load_sorter(n, kind) is sorter  # cached
    assert not sorter.training and not any(p.requires_grad for p in sorter.parameters())
    sorter.train()  # a model's .train() must not switch it
    assert not sorter.training
    x = torch.randn(64, n, generator=torch.Generator().manual_seed(n))
    assert sorter(x).shape == (64, n) and sorter(x[0]).shape == (n,) and sorter(x.view(8, 8, n)).shape == (8, 8, n)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_the_input_only(kind):
    x = torch.randn(8, 32, generator=torch.Generator().manual_seed(2), requires_grad=True)
    load_sorter(32, kind)(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in load_sorter(32, kind).parameters())


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_positive_affine_invariance_above_the_floor_and_constant_rows(kind, n):
    sorter = load_sorter(n, kind)
    x = torch.randn(16, n, generator=torch.Generator().manual_seed(3))
    floor = sorter.net.config["input_floor"]
    x = 2 * floor * (x - x.mean(-1, keepdim=True)) / x.std(-1, correction=0, keepdim=True)  # sd: twice the floor
    assert torch.allclose(sorter(x), sorter(250.0 * x - 3.0), atol=1e-4)
    assert torch.allclose(sorter(x), sorter(0.5 * x + 0.3), atol=1e-4)
    constant = torch.full((2, n), 5.0, requires_grad=True)
    sorter(constant).sum().backward()
    assert torch.isfinite(sorter(constant)).all() and torch.isfinite(constant.grad).all()
