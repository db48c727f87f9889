"""The head objectives (losses.py): LL4AL's margin loss, eq. 6 through the sorter, SoftRank and DiffSort
relaxations, MSE; their gradients across spreads (the heads: test_heads.py, strategies/test_loss_head.py)."""
import numpy as np
import pytest
import torch

from l2ral_lib.losses import loss_mse, margin_ranking_loss, ranking_loss


def test_margin_loss_hand_made_pairs():
    # pairs (0,3) and (1,2): true l0 > l3 and l1 < l2
    true = torch.tensor([4.0, 1.0, 3.0, 2.0])
    # predictions ordered right with a gap >= margin for pair (0,3), wrong for (1,2)
    predicted = torch.tensor([5.0, 2.0, 1.5, 3.0])
    # pair (0,3): sign +1, diff 2 -> max(0, 1-2) = 0; pair (1,2): sign -1, diff 0.5 -> max(0, 1+0.5) = 1.5
    assert margin_ranking_loss(predicted, true).item() == pytest.approx((0 + 1.5) / 2)


def test_margin_loss_small_gap_still_pays():
    true, predicted = torch.tensor([2.0, 1.0]), torch.tensor([0.3, 0.0])  # right order, gap 0.3 < margin 1
    assert margin_ranking_loss(predicted, true, margin=1.0).item() == pytest.approx(0.7)


def test_margin_loss_odd_batch_drops_last_and_needs_two():
    true, predicted = torch.tensor([1.0, 2.0, 9.0]), torch.tensor([0.0, 0.0, 100.0])
    assert margin_ranking_loss(predicted, true).item() == margin_ranking_loss(predicted[:2], true[:2]).item()
    with pytest.raises(ValueError):
        margin_ranking_loss(torch.zeros(1), torch.zeros(1))


def test_margin_loss_ignores_scale_of_true_losses():
    generator = torch.Generator().manual_seed(0)
    true, predicted = torch.rand(8, generator=generator), torch.randn(8, generator=generator)
    assert margin_ranking_loss(predicted, true).item() == pytest.approx(margin_ranking_loss(predicted, 100 * true).item())


def test_ranking_loss_zero_for_a_perfect_sorter():
    from l2ral_lib.ranks import exact_ranks

    class ExactSorter(torch.nn.Module):
        def forward(self, x):
            return exact_ranks(x)

    true = torch.tensor([0.3, 2.0, 0.1, 5.0])
    assert ranking_loss(true * 7 + 1, true, ExactSorter()).item() == 0
    assert ranking_loss(-true, true, ExactSorter()).item() > 0
    assert loss_mse(true, true).item() == 0


# ---------------------------------------------------------------- the ranking objectives beside eq. 6

from l2ral_lib.losses import (DIFFSORT_STEEPNESS, RELAXATION_FLOOR, SOFTRANK_TAU,  # noqa: E402
                              diffsort_loss, diffsort_ranks, soft_ranks, softrank_loss)
from l2ral_lib.ranks import exact_ranks  # noqa: E402
from l2ral_lib.sorter import load_sorter
from l2ral_lib.sorter.quality import gradient_by_spread


def separated(d: int, seed: int) -> torch.Tensor:
    """(d,) distinct values at least 0.5 apart, in random order, at an odd offset and scale."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.randperm(d, generator=generator).float() + 0.4 * torch.rand(d, generator=generator)
    return 3.0 * values - 7.0


def test_soft_ranks_follow_the_pairwise_sigmoid_formula():
    """Against a double loop in float64 over the list standardised by hand (population sd)."""
    x = torch.randn(9, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.2 + 4
    z = ((x - x.mean()) / x.std(correction=0)).tolist()
    tau = 0.5
    by_hand = [(0.5 + sum(1 / (1 + np.exp(-(zi - zj) / tau)) for zj in z)) / len(z) for zi in z]
    assert soft_ranks(x, tau).tolist() == pytest.approx(by_hand, abs=1e-12)


@pytest.mark.parametrize("d", [4, 40, 64])
def test_soft_ranks_become_exact_ranks_as_tau_goes_to_zero(d):
    x = separated(d, d)
    errors = [(soft_ranks(x, tau) - exact_ranks(x)).abs().max().item() for tau in (1.0, 0.1, 0.01, 1e-3)]
    assert errors == sorted(errors, reverse=True) and errors[0] > 1e-2
    assert errors[-1] < 1e-6


@pytest.mark.parametrize("d", [4, 40, 64])  # 40: an epoch's last, partial batch (not a power of two)
def test_diffsort_ranks_become_exact_ranks_as_the_network_hardens(d):
    x = torch.stack([separated(d, d), separated(d, d + 1)])
    assert torch.allclose(diffsort_ranks(x, steepness=1e7), exact_ranks(x), atol=1e-4)
    soft = diffsort_ranks(x)  # a relaxed permutation: every row of P sums to 1, so do the positions
    assert not torch.allclose(soft, exact_ranks(x), atol=1e-3)
    assert soft.sum(-1).tolist() == pytest.approx([(d + 1) / 2] * 2, rel=1e-5)


def test_relaxations_are_as_smooth_as_the_shipped_sorter():
    """The temperatures' rationale (losses.py): on unit-normal lists of 64 the mean |rank error| of
    softrank and diffsort is within 0.15 positions of the shipped sodeep-64 sorter's (about 1.9)."""
    x = torch.randn(500, 64, generator=torch.Generator().manual_seed(0))
    error = lambda ranks: ((ranks - exact_ranks(x)).abs().mean() * 64).item()  # noqa: E731
    with torch.no_grad():
        sorter = error(load_sorter(64, "sodeep")(x))
    assert 1.5 < sorter < 2.5
    assert error(soft_ranks(x)) == pytest.approx(sorter, abs=0.15)
    assert error(diffsort_ranks(x)) == pytest.approx(sorter, abs=0.15)


@pytest.mark.parametrize("ranks", [soft_ranks, diffsort_ranks], ids=["softrank", "diffsort"])
@pytest.mark.parametrize("d", [40, 64])
def test_relaxed_objectives_neither_explode_nor_vanish_across_spreads(ranks, d):
    """Eq. 6's gradient w.r.t. predictions of sd 1e-6 to 1e2 (sorter.gradient_by_spread). From the floor
    up it falls exactly as 1 / sd (scale-free: the lists are standardised); below it, it levels off
    within 10x the scale-free law's value at the floor (measured: at most 8.3x); unstandardised
    pairwise sigmoids would saturate at sd 1e2 (gradient ~ 0) and blow up as 1 / sd at 1e-6."""
    wide = [2 * RELAXATION_FLOOR, 1e-2, 1.0, 1e2]
    above = gradient_by_spread(ranks, d, wide)
    scale_free = above[0] * wide[0]  # gradient x sd
    assert [g * s for g, s in zip(above, wide)] == pytest.approx([scale_free] * 4, rel=1e-3)
    narrow = gradient_by_spread(ranks, d, [1e-4, 1e-5, 1e-6])
    assert 0 < min(narrow) and max(narrow) < 10 * scale_free / RELAXATION_FLOOR
    assert narrow[2] == pytest.approx(narrow[1], rel=0.1)
    assert np.isfinite(gradient_by_spread(ranks, d, [0.0])).all()  # a constant list: zero, finite


def test_relaxed_objectives_are_invariant_to_positive_affine_maps_and_zero_when_perfect():
    x = torch.randn(3, 64, generator=torch.Generator().manual_seed(4))
    true = torch.rand(3, 64, generator=torch.Generator().manual_seed(5))
    for loss in (softrank_loss, diffsort_loss):
        assert loss(250 * x - 3, true).item() == pytest.approx(loss(x, true).item(), rel=1e-4)
        assert loss(true, true) < loss(-true, true) / 10  # right order: only the relaxation's own error remains
    separated_list = separated(64, 0)
    assert softrank_loss(separated_list, separated_list, tau=1e-3).item() < 1e-12


def test_margin_gradient_keeps_its_size_across_spreads():
    """LL4AL's hinge: each violated pair pays a constant slope whatever the spread, so the gradient
    neither vanishes at sd 1e-4 (every pair within the margin) nor grows at sd 1e2."""
    generator = torch.Generator().manual_seed(6)
    base, true = torch.randn(64, generator=generator), torch.rand(64, generator=generator)
    norms = []
    for spread in (1e-4, 1.0, 1e2):
        x = (spread * base).requires_grad_(True)
        margin_ranking_loss(x, true).backward()
        norms.append(x.grad.norm().item())
    assert all(0.05 < n < 0.5 for n in norms), norms


def test_mse_gradient_grows_with_the_spread_by_design():
    """Pinned so that nobody 'fixes' it: l2r-mse is the scale-sensitive objective of Fig. 2's argument."""
    base, true = torch.randn(64, generator=torch.Generator().manual_seed(7)), torch.zeros(64)
    grads = []
    for spread in (1.0, 1e2):
        x = (spread * base).requires_grad_(True)
        loss_mse(x, true).backward()
        grads.append(x.grad.norm().item())
    assert grads[1] == pytest.approx(100 * grads[0], rel=1e-5)


def test_objectives_average_stacked_lists():
    """Lists along the last dim: a stack of lists costs the mean of the lists' losses (the ranking
    bench trains one head per seed in one step)."""
    generator = torch.Generator().manual_seed(8)
    predicted, true = torch.randn(3, 64, generator=generator), torch.rand(3, 64, generator=generator)
    sorter = load_sorter(64, "sodeep")
    for loss in (softrank_loss, diffsort_loss, margin_ranking_loss, loss_mse,
                 lambda p, t: ranking_loss(p, t, sorter)):
        each = [loss(predicted[i], true[i]).item() for i in range(3)]
        assert loss(predicted, true).item() == pytest.approx(np.mean(each), rel=1e-5)


@pytest.mark.parametrize("name, relax, default", [("softrank", soft_ranks, SOFTRANK_TAU),
                                                  ("diffsort", diffsort_ranks, DIFFSORT_STEEPNESS)])
def test_relaxed_losses_use_the_temperature_they_are_given(name, relax, default):
    """eq. 6 through the relaxation at the temperature passed, not the default one (the loss-ranking experiment sweeps it)."""
    loss = {"softrank": softrank_loss, "diffsort": diffsort_loss}[name]
    g = torch.Generator().manual_seed(0)
    predicted, true = torch.randn(64, generator=g), torch.randn(64, generator=g)
    other = default * 0.2
    expected = torch.nn.functional.mse_loss(relax(predicted, other), exact_ranks(true))
    torch.testing.assert_close(loss(predicted, true, other), expected)
    assert not torch.allclose(loss(predicted, true, other), loss(predicted, true))
