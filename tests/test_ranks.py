"""Exact ranks and the row scaling every sorter sees (ranks.py)."""
import pytest
import torch

from l2ral_lib.ranks import exact_ranks, scale_rows


def test_exact_ranks_conventions():
    assert exact_ranks(torch.tensor([3.0, 1.0, 2.0])).tolist() == pytest.approx([1.0, 1 / 3, 2 / 3])
    batch = exact_ranks(torch.tensor([[[0.5, -1.0], [2.0, 7.0]]]))
    assert batch.shape == (1, 2, 2) and batch.tolist() == [[[1.0, 0.5], [0.5, 1.0]]]
    ties = exact_ranks(torch.tensor([1.0, 1.0, 0.0, 1.0]))
    assert ties.tolist() == pytest.approx([0.5, 0.75, 0.25, 1.0])  # ties broken by position
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    # brute force: the rank of x_i is 1 + the number of values below it
    brute = torch.stack([torch.stack([(row < v).sum() + 1 for v in row]) for row in x]).float() / 10
    assert torch.equal(exact_ranks(x), brute)
    assert exact_ranks(torch.tensor([[7.0]])).tolist() == [[1.0]]


def test_scale_rows_worked_values():
    wide = torch.tensor([[10.0, 20.0, 30.0, 40.0, 50.0]])  # sd = sqrt(200) > 1: unit sd
    assert torch.allclose(scale_rows(wide, 1.0), (wide - 30) / 200 ** 0.5)
    narrow = torch.tensor([[0.01, 0.02, 0.03]])  # sd = 0.0082 < 1: centred only, never magnified
    assert torch.allclose(scale_rows(narrow, 1.0), torch.tensor([[-0.01, 0.0, 0.01]]))
    assert torch.allclose(scale_rows(narrow, 0.1), torch.tensor([[-0.1, 0.0, 0.1]]))  # magnified by 1 / floor
    assert torch.allclose(scale_rows(narrow, 1e-3), (narrow - 0.02) / (2e-4 / 3) ** 0.5)  # sd > floor: unit sd
    constant = torch.full((1, 4), 3.0, requires_grad=True)
    scale_rows(constant, 1.0).sum().backward()
    assert torch.equal(scale_rows(constant.detach(), 1.0), torch.zeros(1, 4))
    assert torch.equal(constant.grad, torch.zeros(1, 4))
