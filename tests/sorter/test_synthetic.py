"""SoDeep's synthetic vectors and the project's families (sorter/synthetic.py)."""
import numpy as np
import pytest
import torch

from l2ral_lib.sorter.synthetic import FAMILIES, mixed_batch, sodeep_family_batch


def test_synthetic_families_are_finite_and_seeded():
    draw = [mixed_batch(len(FAMILIES) * 3, 16, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert draw[0].shape == (len(FAMILIES) * 3, 16) and torch.isfinite(draw[0]).all()
    assert torch.equal(draw[0], draw[1])


# ---------------------------------------------------------------- SoDeep's data and recipe

def _draw(family, n=8, rows=4000):
    return sodeep_family_batch(family, rows, n, torch.Generator().manual_seed(3)).double()


def test_sodeep_distributions_follow_get_rand_seq():
    """Each type against what technicolor-research/sodeep dataset.py `get_rand_seq` draws."""
    n, k = 8, torch.arange(8).double()
    uniform = _draw("uniform")
    assert uniform.min() >= -1 and uniform.max() < 1
    assert abs(uniform.mean()) < 0.02 and abs(uniform.var() - 1 / 3) < 0.01
    normal = _draw("normal")
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02 and normal.abs().max() > 3
    ordered = _draw("spaced_sorted")  # np.arange(a, b, (b - a) / n): a + (b - a) k / n, a and b in [0, 1)
    a, step = ordered[:, :1], ordered[:, 1:2] - ordered[:, :1]
    assert torch.allclose(ordered, a + step * k, atol=1e-6) and a.min() >= 0 and (a + step * n).max() < 1
    assert (step > 0).float().mean().item() == pytest.approx(0.5, abs=0.03)  # b < a half the time: descending
    shuffled = _draw("spaced_shuffled")
    values = shuffled.sort(-1).values
    gaps = values.diff(dim=-1)
    assert torch.allclose(gaps, gaps[:, :1].expand_as(gaps), atol=1e-6)  # evenly spaced once sorted ...
    assert (shuffled.diff(dim=-1) > 0).all(-1).float().mean() < 0.01  # ... but not in order
    mixed = _draw("uniform_then_normal")  # split ~ randint(1, n): position 0 always uniform, the last normal 7/8
    assert mixed[:, 0].abs().max() < 1
    assert (mixed[:, -1].abs() > 1).float().mean().item() == pytest.approx((1 - 1 / n) * 0.3173, abs=0.03)
    run = _draw("spaced_shuffled_then_uniform")  # position 0 lies in the a..b run, within [0, 1)
    assert run[:, 0].min() >= 0 and (run[:, -1] < 0).float().mean() > 0.3
    grid = _draw("grid", rows=2)
    assert np.allclose(grid.numpy(), np.arange(-1.0, 1.0, 2.0 / n)[None].repeat(2, 0))
