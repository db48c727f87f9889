"""Rank conventions, the shipped sorters' contract (DESIGN.md), training and the CLI (the notebook: test_notebooks)."""
import json

import pytest
import torch

from l2ral_lib.sorter import (FAMILIES, MissingSorterError, available_sorter_lengths, exact_ranks, load_sorter, main,
                              mixed_batch, rowwise_spearman, train_gru)
from l2ral_lib.tasks import spearman

SHIPPED = [4, 32, 64]


@pytest.fixture(autouse=True)
def one_thread():
    """The GRU's small matrices gain nothing from more threads, and on busy shared cores two
    threads can make it a hundred times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_exact_ranks_conventions():
    assert exact_ranks(torch.tensor([3.0, 1.0, 2.0])).tolist() == pytest.approx([1.0, 1 / 3, 2 / 3])
    batch = exact_ranks(torch.tensor([[[0.5, -1.0], [2.0, 7.0]]]))
    assert batch.shape == (1, 2, 2) and batch.tolist() == [[[1.0, 0.5], [0.5, 1.0]]]
    ties = exact_ranks(torch.tensor([1.0, 1.0, 0.0, 1.0]))
    assert ties.tolist() == pytest.approx([0.5, 0.75, 0.25, 1.0])  # ties broken by position
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(exact_ranks(x).sort(-1).values, torch.arange(1, 11).float().div(10).expand(5, 10))
    assert exact_ranks(torch.tensor([[7.0]])).tolist() == [[1.0]]


def test_rowwise_spearman_equals_scipy():
    generator = torch.Generator().manual_seed(1)
    predicted, x = torch.randn(6, 9, generator=generator), torch.randint(0, 4, (6, 9), generator=generator).float()
    expected = [spearman(p, v) for p, v in zip(predicted, x)]  # x has ties: averaged, as scipy does
    assert rowwise_spearman(predicted, x).tolist() == pytest.approx(expected)


def test_synthetic_families_are_finite_and_seeded():
    draw = [mixed_batch(len(FAMILIES) * 3, 16, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert draw[0].shape == (len(FAMILIES) * 3, 16) and torch.isfinite(draw[0]).all()
    assert torch.equal(draw[0], draw[1])


def test_the_study_lengths_ship():
    assert set(SHIPPED) <= set(available_sorter_lengths("gru"))
    assert available_sorter_lengths("no-such-kind") == []


@pytest.mark.parametrize("n", SHIPPED)
def test_shipped_sorter_is_frozen_and_ranks(n):
    sorter = load_sorter(n, "gru")
    assert load_sorter(n, "gru") is sorter  # cached
    assert not sorter.training and not any(p.requires_grad for p in sorter.parameters())
    sorter.train()  # a model's .train() must not switch it
    assert not sorter.training
    generator = torch.Generator().manual_seed(n)
    x = torch.randn(64, n, generator=generator) * 3 + 1
    predicted = sorter(x)
    assert predicted.shape == (64, n)
    assert rowwise_spearman(predicted, x).mean() > 0.95
    assert sorter(x[0]).shape == (n,) and sorter(x.view(8, 8, n)).shape == (8, 8, n)


@pytest.mark.parametrize("n", SHIPPED)
def test_gradient_reaches_the_input_only(n):
    x = torch.randn(8, n, generator=torch.Generator().manual_seed(2), requires_grad=True)
    load_sorter(n, "gru")(x).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in load_sorter(n, "gru").parameters())


@pytest.mark.parametrize("n", SHIPPED)
def test_positive_affine_invariance_and_constant_rows(n):
    sorter = load_sorter(n, "gru")
    x = torch.randn(16, n, generator=torch.Generator().manual_seed(3))
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, correction=0, keepdim=True)  # sd 1: every row above the floor
    assert torch.allclose(sorter(x), sorter(250.0 * x - 3.0), atol=1e-4)
    assert torch.allclose(sorter(x), sorter(0.02 * x + 0.3), atol=1e-3)
    constant = torch.full((2, n), 5.0, requires_grad=True)
    sorter(constant).sum().backward()
    assert torch.isfinite(sorter(constant)).all() and torch.isfinite(constant.grad).all()


def test_loading_leaves_the_global_rng_alone():
    from l2ral_lib.sorter import _load

    _load.cache_clear()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_sorter(4, "gru")
    assert torch.equal(torch.rand(3), expected)


def test_wrong_length_and_missing_length():
    with pytest.raises(ValueError, match="length 64, got length 10"):
        load_sorter(64, "gru")(torch.randn(2, 10))
    with pytest.raises(FileNotFoundError, match="--kind gru --seq-len 13") as error:
        load_sorter(13, "gru")
    assert isinstance(error.value, MissingSorterError) and "gru-13.pt" in str(error.value)
    with pytest.raises(ValueError, match="unknown sorter kind"):
        load_sorter(64, kind="lstm")


def test_train_sorter_tiny(tmp_path):
    sorter, record = train_gru(8, steps=50, batch=32, out=tmp_path / "gru-8.pt", log=lambda *a: None)
    assert (tmp_path / "gru-8.pt").is_file()
    saved = json.loads((tmp_path / "gru-8.json").read_text())
    assert saved == record
    assert {"kind", "seq_len", "architecture", "steps", "batch", "lr", "seed", "wall_s", "torch", "validation"} <= set(record)
    assert set(record["validation"]) == set(FAMILIES)
    assert all(0 <= q["mean_abs_rank_error"] and -1 <= q["spearman"] <= 1 for q in record["validation"].values())
    assert not any(p.requires_grad for p in sorter.parameters())
    assert sorter(torch.randn(3, 8)).shape == (3, 8)


def test_cli_trains_to_the_given_path(tmp_path, capsys):
    out = tmp_path / "gru-5.pt"
    assert main(["--kind", "gru", "--seq-len", "5", "--steps", "2", "--seed", "3", "--out", str(out)]) == 0
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["seed"] == 3
    assert "Spearman" in capsys.readouterr().out
