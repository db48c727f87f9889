"""How alike the methods' picks are (l2ral_lib.report.overlap): Jaccard by hand, the heatmap on the fake study
of conftest, the loss oracle's hook."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from l2ral_lib.report import overlap as ro  # noqa: E402
from l2ral_lib.report.study import PICK_COLUMNS, StudyResults  # noqa: E402


def test_jaccard_of_two_known_lists():
    assert ro.jaccard([1, 2, 3, 4], [3, 4, 5]) == pytest.approx(2 / 5)  # not Dice 4/7, not overlap 2/3
    assert ro.jaccard([1, 2], [3]) == 0.0 and ro.jaccard([7, 8], [8, 7]) == 1.0
    assert math.isnan(ro.jaccard([], []))
    assert ro.chance_jaccard(10, 30) == pytest.approx(10 / 50)


def test_jaccard_matrix_is_the_mean_over_seeds_of_each_seeds_mean_over_queried_cycles():
    rows = []
    def add(method, seed, cycle, items):  # noqa: E306
        rows.extend((method, seed, cycle, i) for i in items)
    for method in ("random", "entropy", "l2r"):
        add(method, 0, 0, [90, 91])  # the shared initial set: left out (it would add a Jaccard of 1)
        add(method, 1, 0, [90, 91])
    add("random", 0, 1, [1, 2, 3, 4]); add("entropy", 0, 1, [3, 4, 5]); add("l2r", 0, 1, [1, 2, 3, 4])  # noqa: E702
    add("random", 0, 2, [1, 2]); add("entropy", 0, 2, [3, 4]); add("l2r", 0, 2, [6, 7])  # noqa: E702
    add("random", 1, 1, [1, 2]); add("entropy", 1, 1, [1, 2])  # noqa: E702  seed 1: one cycle, no l2r
    picks = pd.DataFrame(rows, columns=["method", "seed", "cycle", "pool_index"])
    table = ro.jaccard_table(picks)
    assert set(table.cycle) == {1, 2}
    assert len(table) == 3 + 3 + 1  # seed 0: 3 pairs x 2 cycles; seed 1: one pair, one cycle
    first = table[(table.seed == 0) & (table.cycle == 1)].set_index(["method_a", "method_b"]).jaccard
    assert first.to_dict() == {("random", "entropy"): 0.4, ("random", "l2r"): 1.0, ("entropy", "l2r"): 0.4}
    matrix = ro.jaccard_matrix(table)
    # random-entropy: seed 0 mean of (0.4, 0) = 0.2, seed 1: 1.0 -> 0.6 (pooling the three values gives 0.467)
    assert matrix.loc["random", "entropy"] == matrix.loc["entropy", "random"] == pytest.approx(0.6)
    assert matrix.loc["random", "l2r"] == pytest.approx(0.5) and matrix.loc["l2r", "l2r"] == 1.0
    summary = ro.jaccard_summary(table).set_index(["method_a", "method_b"])
    low, high = scipy.stats.t.interval(0.95, 1, loc=0.6, scale=np.std([0.2, 1.0], ddof=1) / math.sqrt(2))
    assert summary.loc[("random", "entropy"), ["ci_low", "ci_high"]].tolist() == pytest.approx([low, high])
    assert summary.loc[("random", "l2r"), "n_seeds"] == 1 and math.isnan(summary.loc[("random", "l2r"), "ci_low"])
    per_seed = ro.method_overlap(table, "random", 1)  # Random's batch at cycle 1 against the others, per seed
    assert per_seed.loc["Entropy"].tolist() == [0.4, 1.0]
    assert per_seed.loc["L2R-AL", 0] == 1.0 and math.isnan(per_seed.loc["L2R-AL", 1])
    text = ro.jaccard_text_table(table)
    assert text.loc["Random", "Entropy"] == f"0.600  [{low:.4g}, {high:.4g}]"
    assert text.loc["Random", "L2R-AL"] == "0.500  n/a (1 seed)"


def test_jaccard_heatmap_cells_are_the_hand_computed_overlaps(study_data):
    out, params, _ = study_data
    table = ro.jaccard_table(StudyResults(out).picks)
    # Entropy vs L2R-AL: seed 0 shares item 13 at cycle 1 and 26 at cycle 2 (1 of 19 each); seed 1 nothing at
    # cycle 1, item 26 at cycle 2 -> seed means 1/19 and 1/38, mean 3/76
    assert ro.jaccard_matrix(table).loc["entropy", "l2r"] == pytest.approx(3 / 76)
    low, high = scipy.stats.t.interval(0.95, 1, loc=3 / 76, scale=np.std([1 / 19, 1 / 38], ddof=1) / math.sqrt(2))
    ax = ro.jaccard_heatmap(table, chance=ro.chance_jaccard(params.query_size, params.subset_size))
    cells = {tuple(t.get_position()): t.get_text() for t in ax.texts}  # (column, row), order Random, Entropy, L2R-AL
    expected = f"{3 / 76:.2f}\n[{low:.2f}, {high:.2f}]"
    assert cells[(2, 1)] == cells[(1, 2)] == expected  # both halves of the symmetric matrix
    assert len(cells) == 6  # off-diagonal cells only: the diagonal is grey
    assert "2 seeds" in ax.get_title() and "2 queried cycles" in ax.get_title() and "about 0.200" in ax.get_title()
    assert "better" not in ax.get_title().replace("no better", "")  # no direction claimed
    plt.close("all")


def test_oracle_hook_gives_each_methods_overlap_with_the_oracles_picks():
    picks = pd.DataFrame([("oracle-loss", 0, 1, i) for i in (1, 2, 3, 4)] + [("l2r", 0, 1, i) for i in (3, 4, 5)]
                         + [("random", 0, 1, i) for i in (1, 2, 3, 4)], columns=PICK_COLUMNS)
    agreement = ro.oracle_agreement(ro.jaccard_table(picks)).set_index("method")["mean"]
    assert agreement.to_dict() == {"random": 1.0, "l2r": pytest.approx(0.4)}
    assert "oracle-loss is in this study" in ro.true_loss_hook(picks, "a-study")

