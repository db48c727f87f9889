"""What each method picked and the classes it picked (l2ral_lib.report.picks): numbers pinned by hand, figures
drawn on a tiny fake study (fake selected.json files over the generated CIFAR-like pool of conftest)."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from l2ral_lib.report import picks as rp  # noqa: E402
from l2ral_lib.report.study import StudyResults  # noqa: E402

LN = math.log


def legend_handles(ax):
    return dict(zip(*reversed(ax.get_legend_handles_labels())))


LABELS = np.array([2, 0, 1, 2, 0, 2, 1, 1, 0, 2])  # pool item i has class LABELS[i] (i != its class)


def known_picks():
    return pd.DataFrame([("m", 0, 1, i) for i in (0, 3, 5, 1)] + [("m", 0, 2, i) for i in (2, 6)]
                        + [("m", 1, 1, i) for i in (4, 8, 9)],
                        columns=["method", "seed", "cycle", "pool_index"])


def test_class_histogram_of_a_known_pick_list():
    hist = rp.class_histogram(known_picks(), LABELS, num_classes=4)
    counts = {(s, c, k): n for s, c, k, n in hist[["seed", "cycle", "class", "count"]].itertuples(index=False)}
    # seed 0 cycle 1 picks 0, 3, 5, 1 -> classes 2, 2, 2, 0; cycle 2 picks 2, 6 -> 1, 1; seed 1 cycle 1: 0, 0, 2
    assert counts == {(0, 1, 0): 1, (0, 1, 1): 0, (0, 1, 2): 3, (0, 1, 3): 0,
                      (0, 2, 0): 0, (0, 2, 1): 2, (0, 2, 2): 0, (0, 2, 3): 0,
                      (1, 1, 0): 2, (1, 1, 1): 0, (1, 1, 2): 1, (1, 1, 3): 0}
    table = rp.histogram_table(hist, ["a", "b", "c", "d"])
    assert table.loc[("m", 1)].tolist() == [1.5, 0.0, 2.0, 0.0, 2]  # mean over the two seeds, then the seed count
    assert table.loc[("m", 2)].tolist() == [0.0, 2.0, 0.0, 0.0, 1]
    with pytest.raises(ValueError, match="outside this dataset's pool of 10"):
        rp.class_histogram(known_picks().assign(pool_index=10), LABELS)


def test_balance_entropy_against_a_hand_computation_in_nats():
    bal = rp.balance(rp.class_histogram(known_picks(), LABELS, num_classes=4)).set_index(["seed", "cycle"])
    # counts (1, 0, 3, 0): p = 1/4, 3/4 -> -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335 nats (0.811 bits)
    assert bal.loc[(0, 1), "entropy"] == pytest.approx(0.5623351446, abs=1e-9)
    assert bal.loc[(0, 1), "n_picks"] == 4
    assert bal.loc[(0, 2), "entropy"] == 0.0  # one class only
    assert bal.loc[(1, 1), "entropy"] == pytest.approx(-(2 / 3 * LN(2 / 3) + 1 / 3 * LN(1 / 3)))
    # the pool: 3 x class 0, 3 x class 1, 4 x class 2 -> -(2 x 0.3 ln 0.3 + 0.4 ln 0.4) = 1.0889000
    assert rp.pool_entropy(LABELS, 4) == pytest.approx(1.0888999753, abs=1e-9)
    assert rp.entropy_nats([5, 5, 5, 5]) == pytest.approx(LN(4)) and math.isnan(rp.entropy_nats([0, 0]))



def test_class_histogram_figure_bars_are_the_known_shares(study_data):
    out, params, data = study_data
    labels = rp.pool_labels(data)
    assert labels.tolist() == [i // 12 for i in range(120)]  # the generated pool: 12 images per class, in order
    hist = rp.class_histogram(StudyResults(out).picks, labels, 10)
    ax = rp.class_histogram_plot(hist, pool_share=np.bincount(labels) / 120, names=rp.class_names(data, 10))
    bars = legend_handles(ax)
    # Entropy picks class 1 at cycle 1 and class 2 at cycle 2 in both seeds: 50 % each, zero spread
    assert [p.get_height() for p in bars["Entropy"]] == pytest.approx([0, 50, 50] + [0] * 7)
    # L2R-AL: seed 0 one of each class (10 % each), seed 1 cycle 1 five of class 3 and five of class 4
    # (cycle 2 one of each): class 3 shares 10 % and 30 % -> mean 20 %
    assert bars["L2R-AL"][3].get_height() == pytest.approx(20.0)
    assert bars["L2R-AL"][0].get_height() == pytest.approx(7.5)  # (10 + 5) / 2
    pool = bars["pool's share"]
    assert np.asarray(pool.get_segments())[:, 0, 1] == pytest.approx([10.0] * 10)
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["airplane", "automobile"]
    assert "2 seeds" in ax.get_title() and "95% t-interval" in ax.get_title() and "pooled" in ax.get_title()
    one = rp.class_histogram_plot(hist, cycle=1)
    assert [p.get_height() for p in legend_handles(one)["Entropy"]][:2] == pytest.approx([0, 100])
    plt.close("all")


def test_balance_figure_lines_are_the_hand_computed_entropies_and_the_pool(study_data):
    out, params, data = study_data
    labels = rp.pool_labels(data)
    bal = rp.balance(rp.class_histogram(StudyResults(out).picks, labels, 10))
    pool = rp.pool_entropy(labels, 10)
    assert pool == pytest.approx(LN(10))  # 12 per class
    ax = rp.balance_plot(bal, pool, num_classes=10)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["Entropy"].get_xdata()) == [1, 2] and list(lines["Entropy"].get_ydata()) == [0, 0]
    # L2R-AL cycle 1: ln 10 (seed 0, one per class) and ln 2 (seed 1, two classes) -> mean ln(20) / 2
    assert lines["L2R-AL"].get_ydata()[0] == pytest.approx((LN(10) + LN(2)) / 2)
    assert lines["L2R-AL"].get_ydata()[1] == pytest.approx(LN(10))
    reference = next(line for label, line in lines.items() if label.startswith("pool's class entropy"))
    assert reference.get_ydata()[0] == pytest.approx(LN(10))
    assert "nats" in ax.get_ylabel() and "higher = more balanced" in ax.get_ylabel()
    assert "2 seeds" in ax.get_title() and "band = 95% t-interval" in ax.get_title()
    table = rp.balance_table(bal, pool)
    assert table.loc["Entropy", 1] == "0.000  [0, 0]" and "nats" in table.columns.name
    plt.close("all")

