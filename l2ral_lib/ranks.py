"""Exact ranks and the row scaling every sorter sees its input through (used by the ranking losses and
the sorters alike, so that a loss needs no sorter code)."""
from __future__ import annotations

import torch


def exact_ranks(x: torch.Tensor) -> torch.Tensor:
    """(..., n) -> float32 (..., n) ascending normalised ranks: smallest -> 1/n, largest -> 1.
    Ties are broken by position (stable argsort of a stable argsort)."""
    n = x.shape[-1]
    order = torch.argsort(x, dim=-1, stable=True)
    return (torch.argsort(order, dim=-1, stable=True).to(torch.float32) + 1) / n


# ---------------------------------------------------------------- input scaling: the gradient bound

def scale_rows(x: torch.Tensor, floor: float) -> torch.Tensor:
    """(B, n) -> (B, n): each row centred and divided by max(sd, floor).

    This bounds the gradient w.r.t. x across scales. Rows with sd >= floor come out with unit sd, so
    the sorter is invariant to x -> a * x + b there and its gradient falls as 1 / sd, as any
    scale-free function's must, and no faster (no saturation). Rows narrower than the floor are
    magnified by 1 / floor only, so the gradient levels off instead of growing as 1 / sd (a collapsed
    head would get exploding updates); each kind sets its floor (its `input_floor`). The variance is
    clamped before the square root, so a constant row has a finite (zero) gradient."""
    centred = x - x.mean(-1, keepdim=True)
    return centred / centred.pow(2).mean(-1, keepdim=True).clamp(min=floor * floor).sqrt()
