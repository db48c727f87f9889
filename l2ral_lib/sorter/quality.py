"""How well a sorter ranks: held-out Spearman and rank error per input family, the gradient it passes
back by the spread of its input, and the shipped sorters' quality tables from their training records."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import scipy.stats
import torch
from torch import nn

from ..ranks import exact_ranks
from .nets import KINDS
from .synthetic import FAMILIES, SODEEP_FAMILIES, VALIDATION_SEED, sodeep_family_batch, synthetic_batch
from .weights import weights_path


def rowwise_spearman(predicted: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """(B, n), (B, n) -> (B,) Spearman's rho of each predicted row with the ranks of the matching row
    of x, ties averaged as in scipy.stats.spearmanr."""
    a = scipy.stats.rankdata(predicted.detach().cpu().double().numpy(), axis=-1)
    b = scipy.stats.rankdata(x.detach().cpu().double().numpy(), axis=-1)
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


FAMILY_SETS = ("sodeep", "project")


def validation_set(seq_len: int, n: int = 500, families: str = "project") -> dict[str, torch.Tensor]:
    """Family -> (n, seq_len): the fixed held-out vectors (VALIDATION_SEED; training never uses it) of
    SoDeep's distinct distributions (`families="sodeep"`) or of the project's eight (`"project"`)."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    if families == "sodeep":
        return {family: sodeep_family_batch(family, n, seq_len, generator) for family in SODEEP_FAMILIES}
    return {family: synthetic_batch(family, n, seq_len, generator) for family in FAMILIES}


@torch.no_grad()
def _predict(sorter: nn.Module, x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Chunked forward, so that a large held-out set needs little memory."""
    return torch.cat([sorter(part) for part in x.split(chunk)])


def rank_quality(sorter: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Mean Spearman of predicted vs exact ranks, mean L1 between them (the training loss, in
    normalised-rank units) and the same in rank positions (L1 * n)."""
    predicted = _predict(sorter, x)
    rho = rowwise_spearman(predicted, x) if x.shape[-1] > 1 else np.ones(1)
    l1 = float((predicted - exact_ranks(x)).abs().mean())
    return {"spearman": float(np.nanmean(rho)), "l1": l1, "mean_abs_rank_error": l1 * x.shape[-1]}


def evaluate_sorter(sorter: nn.Module, seq_len: int, n: int = 500, families: str = "project") -> dict[str, dict]:
    """`rank_quality` per family of the held-out set of `families` ("sodeep" or "project")."""
    return {family: rank_quality(sorter, x) for family, x in validation_set(seq_len, n, families).items()}


def gradient_by_spread(sorter: nn.Module, seq_len: int, spreads, rows: int = 8, offset: float = 0.0,
                       seed: int = 5) -> list[float]:
    """Per spread: mean over `rows` lists of |d loss / d predictions|, where the predictions are
    offset + spread * (a unit-sd row) and the loss is the paper's ranking loss (eq. 6: MSE between the
    sorter's ranks of the predictions and the exact ranks of unrelated true losses), summed over lists.
    (The sorters centre each list; a large offset only adds float32 rounding at tiny spreads.)"""
    generator = torch.Generator().manual_seed(seed)
    base = torch.randn(rows, seq_len, generator=generator)
    base = (base - base.mean(-1, keepdim=True)) / base.std(-1, correction=0, keepdim=True).clamp(min=1e-12)
    target = exact_ranks(torch.randn(rows, seq_len, generator=generator))
    norms = []
    for spread in spreads:
        x = (offset + spread * base).requires_grad_(True)
        (sorter(x) - target).pow(2).mean(-1).sum().backward()
        norms.append(x.grad.norm(dim=-1).mean().item())
    return norms


def sorter_quality(seq_len: int) -> pd.DataFrame:
    """The shipped sorters' held-out quality for lists of `seq_len` (their training records, written by
    `make sorter`): mean Spearman with the exact ranks and mean |rank error| in positions, per input
    family, one column pair per sorter kind. The gru sorter is validated on the project's families only."""
    rows = []
    for kind in KINDS:
        validation = json.loads(weights_path(seq_len, kind).with_suffix(".json").read_text())["validation"]
        for families, table in (validation if "sodeep" in validation else {"project": validation}).items():
            rows += [{"kind": kind, "families": families, "family": family, "spearman": quality["spearman"],
                      "rank error (positions)": quality["mean_abs_rank_error"]} for family, quality in table.items()]
    return pd.DataFrame(rows).pivot_table(index=["families", "family"], columns="kind", sort=False,
                                          values=["spearman", "rank error (positions)"]).round(3)
