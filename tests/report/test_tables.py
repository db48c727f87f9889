"""The tables (report/tables.py): final and AUBC with intervals, ranks and the paper's numbers, paired
differences, cost per phase; display names, units, "-" for missing, the rounding rule, nothing cut short."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import table  # noqa: E402
from l2ral_lib.report import tables  # noqa: E402


@pytest.mark.parametrize("half_width, places", [
    (0.408, 2),  # leading digit in the tenths: round to hundredths
    (4.3, 1),
    (6.35, 1),
    (0.77, 2),
    (12.7, 0),  # tens: whole numbers (never fewer decimals than none)
    (345.0, 0),
    (0.0052, 4),
    (0.1, 2),  # exactly a power of ten
    (1e-9, tables.MAX_DECIMALS),
    (0.0, None), (float("nan"), None),  # no spread: four significant digits
])
def test_rounding_rule_one_place_past_the_half_widths_leading_digit(half_width, places):
    assert tables.decimals(half_width) == places


@pytest.mark.parametrize("mean, low, high, seeds, signed, text", [
    (72.5, 66.147, 78.853, 2, False, "72.5 [66.1, 78.9]"),  # half-width 6.35: one decimal
    (0.408, -0.01221, 0.8272, 5, True, "+0.41 [-0.01, +0.83]"),  # 0.42: two decimals
    (2.44, 1.629, 3.251, 5, True, "+2.44 [+1.63, +3.25]"),  # 0.81: two
    (1.8, 0.7, 2.8, 5, True, "+1.8 [+0.7, +2.8]"),  # 1.05: one
    (64.2, 52.4, 75.9, 3, False, "64 [52, 76]"),  # 11.75: none
    (0.0012, -0.0031, 0.0055, 3, False, "0.0012 [-0.0031, 0.0055]"),
    (-0.0004, -0.02, 0.018, 3, True, "+0.000 [-0.020, +0.018]"),  # rounds to zero: no minus sign
    (2.0, 2.0, 2.0, 2, True, "+2 [+2, +2]"),  # zero-width: as the values are
    (72.0, np.nan, np.nan, 1, False, "72 (1 seed)"),
    (np.nan, np.nan, np.nan, 0, False, "-"),
])
def test_estimate_on_worked_examples(mean, low, high, seeds, signed, text):
    assert tables.estimate(mean, low, high, seeds, signed=signed) == text


def test_p_values_in_full():
    assert tables.p_text(0.0534) == "p = 0.053" and tables.p_text(0.00021) == "p = 0.00021"
    assert tables.p_text(3.2e-6) == "p = 3.2e-06" and tables.p_text(np.nan) == ""


def test_metric_table_final_and_aubc_with_intervals_ranks_and_the_papers_numbers():
    final = tables.metric_table(table(), "accuracy", paper={"l2r": 90.95, "random": 87.72})
    assert list(final.index) == ["Random", "L2R-AL"]  # paper's method order, display names
    # l2r finals 72, 73: mean 72.5, t-interval 72.5 +/- 12.706 * 0.7071 / sqrt(2) = [66.15, 78.85]: half-width 6.4
    assert final.loc["L2R-AL", "final, 300 labeled (%)"] == "72.5 [66.1, 78.9]"
    assert final.loc["L2R-AL", "AUBC (%)"] == "62.5 [56.1, 68.9]"  # curves 52/62/72, 53/63/73: mean height 62.5
    assert final.loc["L2R-AL", "rank final"] == "1" and final.loc["Random", "rank AUBC"] == "2"
    assert final.loc["L2R-AL", "paper final (%)"] == "90.95 (rank 1)" and final.loc["Random", "paper AUBC"] == "curve only"
    assert final.loc["L2R-AL", "seeds"] == 2
    assert "higher is better" in final.attrs["caption"] and final.columns.name is None


def test_metric_table_one_seed_and_missing_paper_values():
    one = tables.metric_table(table()[table().seed == 0], "accuracy", paper={"random": 87.72}, paper_at=1000)
    assert one.loc["L2R-AL", "final, 300 labeled (%)"] == "72 (1 seed)" and "nan" not in one.to_string()
    assert one.loc["L2R-AL", "paper final, 1,000 labeled (%)"] == "-"
    spearman = table().assign(metric=lambda t: t.metric.replace("accuracy", "spearman"))
    assert "AUBC" in tables.metric_table(spearman, "spearman").columns  # no unit


def test_paper_rank_follows_the_metric_direction():
    assert tables.paper_rank({"l2r": 10.43, "entropy": 15.04, "random": 11.28}, "mae") == {
        "l2r": 1, "random": 2, "entropy": 3}
    assert tables.paper_rank({"l2r": 90.95, "random": 87.72}, "accuracy") == {"l2r": 1, "random": 2}


def test_paired_table_names_references_and_marks_them():
    paired = tables.paired_table(table(), "accuracy")
    assert list(paired.columns) == ["vs Random: final (%)", "vs Random: AUBC (%)", "vs L2R-AL: final (%)",
                                    "vs L2R-AL: AUBC (%)"]
    assert paired.loc["Random", "vs Random: final (%)"] == "reference"
    # l2r - random = +2 on both seeds: a constant difference, interval of width 0, p = 0
    assert paired.loc["L2R-AL", "vs Random: final (%)"] == "+2 [+2, +2], p = 0, better"


def test_paired_table_cells_keep_their_p_value_when_shown():
    rng = np.random.default_rng(0)
    rows = [dict(dataset="cifar10", method=m, seed=s, cycle=c, n_labeled=100 * (c + 1), metric="accuracy",
                 value=50 + 5 * c + rng.normal(0, 1) + (0.4 if m == "l2r" else 0)) for m in ("random", "l2r")
            for s in range(5) for c in range(3)]
    paired = tables.paired_table(pd.DataFrame(rows), "accuracy")
    cell = paired.loc["L2R-AL", "vs Random: AUBC (%)"]
    assert ", p = " in cell and cell.endswith(("not significant", "better", "worse"))
    assert cell in tables.html(paired)


def test_html_never_cuts_a_table_short():
    long = "+0.408 [-0.01221, 0.8272], p = 0.0534, not significant (incomplete)"
    wide = pd.DataFrame({f"a long column name {k}": [long] * 80 for k in range(40)})
    wide.attrs["caption"] = "a caption"
    text = tables.html(wide)
    assert "..." not in text and "\u2026" not in text
    assert text.count(long) == 40 * 80 and text.startswith("<p><em>a caption</em></p>")
    with tables.full_display():
        assert "..." not in repr(wide)
    assert pd.get_option("display.max_colwidth") == 50  # lifted for the display only


def test_cost_table_for_people():
    data = table()
    data = pd.concat([data, data[data.metric == "time_train_s"].assign(metric="time_score_s", value=0.5)
                      .query("method == 'l2r'")])
    cost = tables.cost_table(data)
    assert list(cost.index) == ["Random", "L2R-AL"]
    assert list(cost.columns) == ["train (s)", "score (s)", "total (s)"]
    assert cost.loc["Random", "score (s)"] == "-" and cost.loc["L2R-AL", "total (s)"] == "4.5"


def test_timing_table_sums_cycles():
    timing = tables.timing_table(table())
    assert timing.loc["random", "train"] == 3.0
