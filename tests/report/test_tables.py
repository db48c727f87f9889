"""The tables (report/tables.py): final and AUBC with intervals, ranks and the paper's numbers, paired
differences, time per phase."""
import matplotlib

matplotlib.use("Agg")
from helpers import table  # noqa: E402
from l2ral_lib.report import tables  # noqa: E402


def test_metric_table_final_and_aubc_with_intervals_ranks_and_the_papers_numbers():
    final = tables.metric_table(table(), "accuracy", paper={"l2r": 90.95, "random": 87.72})
    assert list(final.index) == ["Random", "L2R-AL"]  # paper's method order, display names
    # l2r finals 72, 73: mean 72.5, t-interval 72.5 +/- 12.706 * 0.7071 / sqrt(2) = [66.15, 78.85]
    assert final.loc["L2R-AL", "final (300 labeled)"] == "72.5  [66.15, 78.85]"
    assert final.loc["L2R-AL", "AUBC"] == "62.5  [56.15, 68.85]"  # curves 52/62/72, 53/63/73: mean height 62.5
    assert final.loc["L2R-AL", "rank final"] == "1" and final.loc["Random", "rank AUBC"] == "2"
    assert final.loc["L2R-AL", "paper final"] == "90.95 (rank 1)" and final.loc["Random", "paper AUBC"] == "curve only"
    assert final.loc["L2R-AL", "seeds"] == 2
    assert "higher is better" in final.columns.name


def test_metric_table_one_seed_and_missing_paper_values():
    one = tables.metric_table(table()[table().seed == 0], "accuracy", paper={"random": 87.72}, paper_at=1000)
    assert one.loc["L2R-AL", "final (300 labeled)"] == "72  n/a (1 seed)" and "nan" not in one.to_string()
    assert one.loc["L2R-AL", "paper final (1000 labeled)"] == "not in paper"


def test_paper_rank_follows_the_metric_direction():
    assert tables.paper_rank({"l2r": 10.43, "entropy": 15.04, "random": 11.28}, "mae") == {
        "l2r": 1, "random": 2, "entropy": 3}
    assert tables.paper_rank({"l2r": 90.95, "random": 87.72}, "accuracy") == {"l2r": 1, "random": 2}


def test_paired_table_names_references_and_marks_them():
    paired = tables.paired_table(table(), "accuracy")
    assert list(paired.columns) == ["vs Random: final", "vs Random: AUBC", "vs L2R-AL: final", "vs L2R-AL: AUBC"]
    assert paired.loc["Random", "vs Random: final"] == "reference"
    # l2r - random = +2 on both seeds: a constant difference, interval of width 0, p = 0
    assert paired.loc["L2R-AL", "vs Random: final"].startswith("+2  [2, 2]  better")


def test_timing_table_sums_cycles():
    timing = tables.timing_table(table())
    assert timing.loc["random", "train"] == 3.0
