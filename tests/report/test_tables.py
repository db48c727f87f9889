"""Results table helpers and figures."""
import json

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.report import figures, labels, stats, tables  # noqa: E402
from l2ral_lib.sorter import quality  # noqa: E402


def table():
    rows = []
    for method, offset in (("random", 0.0), ("l2r", 2.0)):
        for seed in (0, 1):
            for cycle, n in enumerate((100, 200, 300)):
                rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=n,
                                 metric="accuracy", value=50 + 10 * cycle + offset + seed))
                rows.append(dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=n,
                                 metric="time_train_s", value=1.0))
    return pd.DataFrame(rows)


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


def test_learning_curve_draws_one_line_per_method_plus_paper_marks(tmp_path):
    ax = figures.learning_curve(table(), "accuracy", paper={"l2r": 90.95, "vaal": 87.0}, title="t")
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Random" in labels and "L2R-AL" in labels and "paper, final cycle" in labels
    assert "2 seeds" in ax.get_title() and "95% t-interval" in ax.get_title()
    assert "higher is better" in ax.get_ylabel()
    path = figures.save_figure(ax, tmp_path, "fig")
    assert path.stat().st_size > 5000


def test_learning_curve_band_is_the_t_interval():
    ax = figures.learning_curve(table(), "accuracy")
    band = ax.collections[0].get_paths()[0].vertices  # Random: seeds 0, 1 give 50/51, 60/61, 70/71
    half = scipy.stats.t.ppf(0.975, 1) * np.std([0, 1], ddof=1) / np.sqrt(2)
    assert band[:, 1].max() == pytest.approx(70.5 + half) and band[:, 1].min() == pytest.approx(50.5 - half)


def test_paired_table_names_references_and_marks_them():
    paired = tables.paired_table(table(), "accuracy")
    assert list(paired.columns) == ["vs Random: final", "vs Random: AUBC", "vs L2R-AL: final", "vs L2R-AL: AUBC"]
    assert paired.loc["Random", "vs Random: final"] == "reference"
    # l2r - random = +2 on both seeds: a constant difference, interval of width 0, p = 0
    assert paired.loc["L2R-AL", "vs Random: final"].startswith("+2  [2, 2]  better")


def test_aubc_plot_orders_methods_best_first_in_the_metrics_direction():
    ax = figures.aubc_plot(table(), "accuracy")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["L2R-AL", "Random"]
    mae = table().assign(metric=lambda t: t.metric.replace("accuracy", "mae"))
    ax = figures.aubc_plot(mae, "mae")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Random", "L2R-AL"] and "lower is better" in ax.get_ylabel()


def test_penalty_heatmap_shows_cells_and_column_means():
    matrix = pd.DataFrame([[np.nan, 0.5], [0.0, np.nan]], index=["random", "l2r"], columns=["random", "l2r"])
    matrix.attrs = dict(metric="accuracy", cycles=2, seeds=3, excluded=["vaal"])
    ax = figures.penalty_heatmap(matrix)
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.50"]
    below = ax.child_axes[0]
    assert [t.get_text() for t in below.texts] == ["0.00", "0.50"]  # Random never beaten, L2R-AL half the cycles
    assert "left out: VAAL" in ax.get_title()
    empty = figures.penalty_heatmap(stats.penalty_matrix(table()[table().seed == 0], "accuracy"))
    assert "n/a (1 seed)" in empty.texts[0].get_text()


def test_paper_marks_only_where_the_curve_ends_at_the_papers_final_cycle():
    marks = lambda ax: [line for line in ax.get_lines() if line.get_marker() == "D" and len(line.get_xdata())]
    ax = figures.learning_curve(table(), "accuracy", paper={"l2r": 90.95}, paper_at=300)
    assert [list(line.get_xdata()) for line in marks(ax)] == [[300]]
    ax = figures.learning_curve(table(), "accuracy", paper={"l2r": 90.95}, paper_at=1000)  # a smoke run stops at 300
    assert not marks(ax)
    assert any("at 1000 labeled, beyond this run" in line.get_label() for line in ax.get_lines())
    final = tables.metric_table(table(), "accuracy", paper={"l2r": 90.95}, paper_at=1000)
    assert final.loc["L2R-AL", "paper final (1000 labeled)"] == "90.95 (rank 1)"


def test_timing_table_sums_cycles():
    timing = tables.timing_table(table())
    assert timing.loc["random", "train"] == 3.0


def test_every_registered_strategy_has_a_label_and_its_own_colour():
    from l2ral_lib.strategies import list_strategies

    assert set(list_strategies()) <= set(labels.METHOD_LABELS)
    colours = figures.palette(list_strategies())
    assert len({colours[m] for m in list_strategies()}) == len(list_strategies())


def test_sorter_quality_reads_each_kinds_record():
    table = quality.sorter_quality(64)
    for kind in ("sodeep", "gru"):
        record = json.loads((ROOT / "l2ral_lib" / "sorter_weights" / f"{kind}-64.json").read_text())["validation"]
        project = record.get("project", record)
        assert table.loc[("project", "loss_like"), ("spearman", kind)] == round(project["loss_like"]["spearman"], 3)
        assert table.loc[("project", "near_ties"), ("rank error (positions)", kind)] == round(
            project["near_ties"]["mean_abs_rank_error"], 3)
    assert pd.isna(table.loc[("sodeep", "grid"), ("spearman", "gru")])  # gru is validated on the project's families only
