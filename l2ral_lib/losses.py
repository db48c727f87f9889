"""Losses that train the loss-prediction heads."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .sorter import exact_ranks


def ranking_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor, sorter: torch.nn.Module) -> torch.Tensor:
    """L2R-AL's listwise loss (paper eq. 6): MSE between the exact ranks of the true losses and the
    sorter's approximate ranks of the predicted ones, for one mini-batch list (d,) -> scalar.
    Minimising it maximises Spearman's correlation (eq. 3-4)."""
    predicted_ranks = sorter(predicted_loss.unsqueeze(0)).squeeze(0)
    return F.mse_loss(predicted_ranks, exact_ranks(true_loss.detach()))


def margin_ranking_loss(predicted_loss: torch.Tensor, true_loss: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """LL4AL's pairwise loss: sample i is paired with sample d-1-i (first half only, as in the
    reference code); each pair pays max(0, margin - sign(l_i - l_j) * (p_i - p_j)), averaged.
    An odd last sample has no partner and is left out."""
    half = len(predicted_loss) // 2
    if half == 0:
        raise ValueError("the margin loss needs at least two samples in a batch")
    n = 2 * half
    predicted_diff = (predicted_loss[:n] - predicted_loss[:n].flip(0))[:half]
    true_diff = (true_loss[:n] - true_loss[:n].flip(0))[:half].detach()
    sign = 2 * torch.sign(torch.clamp(true_diff, min=0)) - 1  # +1 where l_i > l_j, else -1 (as the reference)
    return torch.clamp(margin - sign * predicted_diff, min=0).mean()


def loss_mse(predicted_loss: torch.Tensor, true_loss: torch.Tensor) -> torch.Tensor:
    """Plain regression on raw loss values: the scale-sensitive objective the paper argues against (Fig. 2)."""
    return F.mse_loss(predicted_loss, true_loss.detach())
