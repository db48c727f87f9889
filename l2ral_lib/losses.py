"""Losses that train the loss-prediction heads.

Each takes the predicted and the true per-sample losses of one mini-batch list, (d,), or of several
lists of equal length stacked, (..., d) (lists along the last dimension), and returns the mean over
the lists. `RANK_LOSSES` names them for `Params.rank_loss`:
- `sodeep`: the paper's eq. 6, MSE between the frozen sorter's ranks and the exact ranks (`ranking_loss`);
- `margin`: LL4AL's pairwise margin loss (`margin_ranking_loss`);
- `mse`: regression on the raw loss values (`loss_mse`);
- `softrank`, `diffsort`: eq. 6 with the sorter replaced by an analytic relaxation of the ranks,
  pairwise sigmoids (`softrank_loss`) or a differentiable sorting network (`diffsort_loss`, Petersen
  et al., ICML 2021). Both see each list standardised (`ranks.scale_rows`), so that no temperature
  has to follow the scale of the predictions: above `RELAXATION_FLOOR` the loss is invariant to
  x -> a * x + b (a > 0) and its gradient falls as 1 / sd, no faster; below it the gradient levels off.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from diffsort import DiffSortNet
from torch.nn import functional as F

from .ranks import exact_ranks, scale_rows

RANK_LOSSES = ("sodeep", "margin", "mse", "softrank", "diffsort")

# Rows with sd under this are magnified by 1 / floor only (ranks.scale_rows): the gradient w.r.t. a
# collapsed head's predictions stays bounded instead of growing as 1 / sd. Far below the spread of an
# untrained L2R head's predictions (about 1e-2 to 1e-1), so it acts on degenerate lists only.
RELAXATION_FLOOR = 1e-3
# The relaxations' temperatures, in units of the list's sd. Both are set to the smoothness of the
# shipped sodeep-64 sorter: on unit-normal lists of 64 its ranks miss the exact ones by 1.89 positions
# on average, softrank's at tau 0.35 by 1.88 and diffsort's at steepness 28 by 1.9
# (tests/test_losses.py pins this). The objectives then differ in how they relax the ranks,
# not in how much; the loss-ranking experiment sweeps tau to see what the smoothness itself does.
SOFTRANK_TAU = 0.35
DIFFSORT_STEEPNESS = 28.0


def _rank_mse(predicted_ranks: torch.Tensor, true_loss: torch.Tensor) -> torch.Tensor:
    """Eq. 6: MSE between relaxed ranks of the predictions and the exact ranks of the true losses."""
    return F.mse_loss(predicted_ranks, exact_ranks(true_loss.detach()))


def ranking_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor, sorter: torch.nn.Module) -> torch.Tensor:
    """L2R-AL's listwise loss (paper eq. 6): MSE between the exact ranks of the true losses and the
    sorter's approximate ranks of the predicted ones, for one mini-batch list (d,) -> scalar.
    Minimising it maximises Spearman's correlation (eq. 3-4)."""
    return _rank_mse(sorter(predicted_loss.unsqueeze(0)).squeeze(0), true_loss)


def margin_ranking_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """LL4AL's pairwise loss: sample i is paired with sample d-1-i (first half only, as in the
    reference code); each pair pays max(0, margin - sign(l_i - l_j) * (p_i - p_j)), averaged.
    An odd last sample has no partner and is left out."""
    half = predicted_loss.shape[-1] // 2
    if half == 0:
        raise ValueError("the margin loss needs at least two samples in a batch")
    n = 2 * half
    predicted_diff = (predicted_loss[..., :n] - predicted_loss[..., :n].flip(-1))[..., :half]
    true_diff = (true_loss[..., :n] - true_loss[..., :n].flip(-1))[..., :half].detach()
    sign = 2 * torch.sign(torch.clamp(true_diff, min=0)) - 1  # +1 where l_i > l_j, else -1 (as the reference)
    return torch.clamp(margin - sign * predicted_diff, min=0).mean()


def loss_mse(predicted_loss: torch.Tensor, true_loss: torch.Tensor) -> torch.Tensor:
    """Plain regression on raw loss values: the scale-sensitive objective the paper argues against (Fig. 2)."""
    return F.mse_loss(predicted_loss, true_loss.detach())


def soft_ranks(x: torch.Tensor, tau: float = SOFTRANK_TAU) -> torch.Tensor:
    """(..., d) -> (..., d) relaxed normalised ranks: with z the standardised list,
    rank_i = (1/2 + sum_j sigmoid((z_i - z_j) / tau)) / d. The j = i term is 1/2, so as tau -> 0 this
    is `exact_ranks` for distinct values (smallest 1/d, largest 1). O(d^2) memory: lists of d <= 64."""
    z = scale_rows(x, RELAXATION_FLOOR)
    return (0.5 + torch.sigmoid((z.unsqueeze(-1) - z.unsqueeze(-2)) / tau).sum(-1)) / x.shape[-1]


@lru_cache(maxsize=None)
def _sorting_network(d: int, steepness: float, device: str) -> DiffSortNet:
    return DiffSortNet("bitonic", d, device=device, steepness=steepness)  # a fixed network: nothing to learn


def diffsort_ranks(x: torch.Tensor, steepness: float = DIFFSORT_STEEPNESS) -> torch.Tensor:
    """(..., d) -> (..., d) relaxed normalised ranks from a differentiable bitonic sorting network
    (Petersen et al., ICML 2021; diffsort 0.2.0, its default Cauchy swap of Petersen et al., ICLR 2022,
    which is monotonic). The network returns the relaxed permutation P (row i: where input i goes,
    ascending), so rank_i = sum_j P_ij * (j + 1) / d; a hard sort gives `exact_ranks`."""
    d = x.shape[-1]
    z = scale_rows(x, RELAXATION_FLOOR).reshape(-1, d)
    _, permutation = _sorting_network(d, steepness, str(x.device))(z)
    positions = torch.arange(1, d + 1, dtype=permutation.dtype, device=x.device) / d
    return (permutation @ positions).reshape(x.shape)


def softrank_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor, tau: float = SOFTRANK_TAU) -> torch.Tensor:
    """Eq. 6 with `soft_ranks` in place of the sorter."""
    return _rank_mse(soft_ranks(predicted_loss, tau), true_loss)


def diffsort_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor,
                  steepness: float = DIFFSORT_STEEPNESS) -> torch.Tensor:
    """Eq. 6 with `diffsort_ranks` in place of the sorter."""
    return _rank_mse(diffsort_ranks(predicted_loss, steepness), true_loss)
