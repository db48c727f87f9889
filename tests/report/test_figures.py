"""The figures (report/figures.py): learning curve, AUBC plot, penalty heatmap, the paper's marks."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from helpers import table  # noqa: E402
from l2ral_lib.report import figures, stats, tables  # noqa: E402


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
