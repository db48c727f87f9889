"""Rank quality (sorter/quality.py): row-wise Spearman, the shipped sorters on held-out vectors,
the gradient by spread, the shipped sorters' quality table."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import ROOT, SHIPPED_PAIRS
from l2ral_lib.losses import ranking_loss
from l2ral_lib.sorter import FrozenSorter, build_sorter, load_sorter, quality, weights_path
from l2ral_lib.sorter.quality import evaluate_sorter, gradient_by_spread, rank_quality, rowwise_spearman
from l2ral_lib.sorter.train import SoDeepRecipe, sodeep_held_out
from l2ral_lib.tasks import spearman


def test_rowwise_spearman_equals_scipy():
    generator = torch.Generator().manual_seed(1)
    predicted, x = torch.randn(6, 9, generator=generator), torch.randint(0, 4, (6, 9), generator=generator).float()
    expected = [spearman(p, v) for p, v in zip(predicted, x)]  # x has ties: averaged, as scipy does
    assert rowwise_spearman(predicted, x).tolist() == pytest.approx(expected)


# held-out Spearman every shipped sorter reaches on its own training distributions: (kind, n) -> bound
# (measured minima over families, 100 rows each: sodeep-4 0.944, sodeep-64 0.972, gru 0.957-0.958; the
# untrained networks average 0.16 to 0.28 (sodeep) and -0.26 to -0.20 (gru))
QUALITY_BOUND = {("sodeep", 4): 0.9, ("sodeep", 32): 0.9, ("sodeep", 64): 0.95,
                 ("gru", 4): 0.94, ("gru", 32): 0.94, ("gru", 64): 0.94}


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_shipped_sorter_ranks_held_out_vectors(kind, n):
    """Per family the kind was trained on, held-out vectors: mean Spearman above the bound and the
    values themselves within 0.1 of the exact normalised ranks (mean L1). The same network untrained
    fails both by far, so the bounds test the training."""
    families = "sodeep" if kind == "sodeep" else "project"
    trained = evaluate_sorter(load_sorter(n, kind), n, n=100, families=families)
    assert min(q["spearman"] for q in trained.values()) > QUALITY_BOUND[kind, n], trained
    assert max(q["l1"] for q in trained.values()) < 0.1, trained
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = evaluate_sorter(FrozenSorter(build_sorter(kind), n), n, n=100, families=families)
    assert np.mean([q["spearman"] for q in untrained.values()]) < QUALITY_BOUND[kind, n] - 0.2
    assert np.mean([q["l1"] for q in untrained.values()]) > 0.2


def test_gradient_by_spread_is_the_ranking_loss_gradient():
    """Against losses.ranking_loss (eq. 6), one list at a time."""
    sorter = load_sorter(4, "sodeep")
    generator = torch.Generator().manual_seed(5)
    base = torch.randn(2, 4, generator=generator)
    base = (base - base.mean(-1, keepdim=True)) / base.std(-1, correction=0, keepdim=True)
    truth = torch.randn(2, 4, generator=generator)
    x = (0.1 * base).requires_grad_(True)
    sum(ranking_loss(x[i], truth[i], sorter) for i in range(2)).backward()
    assert gradient_by_spread(sorter, 4, [0.1], rows=2) == [pytest.approx(x.grad.norm(dim=-1).mean().item(), rel=1e-5)]


@pytest.mark.parametrize("kind,n", SHIPPED_PAIRS)
def test_gradient_neither_explodes_nor_vanishes_across_spreads(kind, n):
    """Predictions of sd 1e-6 to 1e2. Above the kind's input floor the gradient falls exactly as
    1 / sd, the law of any scale-free ranking (a saturating input, like SoDeep's bare sigmoid, falls
    far faster). Below it the gradient levels off by sd 1e-5, under 5000x its value at sd 1
    (measured: sodeep 14x at length 64, 461x at 4; gru 1000x to 3600x); the same weights without the
    floor grow as 1 / sd without end (1e4x from sd 1e-2 to 1e-6)."""
    sorter = load_sorter(n, kind)
    floor = sorter.net.config["input_floor"]
    wide = [2 * floor, 20 * floor, 1e2]
    above = gradient_by_spread(sorter, n, wide)
    at_sd_1 = above[0] * wide[0]  # the scale-free law g * sd = constant, read at sd 1
    assert [g * s for g, s in zip(above, wide)] == pytest.approx([at_sd_1] * 3, rel=1e-3)
    narrow = gradient_by_spread(sorter, n, [1e-4, 1e-5, 1e-6])
    assert narrow[2] == pytest.approx(narrow[1], rel=0.02)
    assert 0 < max(narrow) < 5000 * at_sd_1
    net = build_sorter(kind, **{**sorter.net.config, "input_floor": 1e-12})  # the same weights, no floor
    net.load_state_dict(sorter.net.state_dict())
    unfloored = gradient_by_spread(FrozenSorter(net, n), n, [1e-6, 1e-2])
    assert unfloored[0] == pytest.approx(1e4 * unfloored[1], rel=1e-3)


def test_shipped_sodeep_4_reproduces_its_recorded_quality():
    record = json.loads(weights_path(4, "sodeep").with_suffix(".json").read_text())
    quality = rank_quality(load_sorter(4, "sodeep"), sodeep_held_out(SoDeepRecipe(4)))
    assert quality["l1"] == pytest.approx(record["best"]["val_l1"], rel=1e-5)


def test_sorter_quality_reads_each_kinds_record():
    table = quality.sorter_quality(64)
    for kind in ("sodeep", "gru"):
        record = json.loads((ROOT / "l2ral_lib" / "sorter_weights" / f"{kind}-64.json").read_text())["validation"]
        project = record.get("project", record)
        assert table.loc[("project", "loss_like"), ("spearman", kind)] == round(project["loss_like"]["spearman"], 3)
        assert table.loc[("project", "near_ties"), ("rank error (positions)", kind)] == round(
            project["near_ties"]["mean_abs_rank_error"], 3)
    assert pd.isna(table.loc[("sodeep", "grid"), ("spearman", "gru")])  # gru is validated on the project's families only
