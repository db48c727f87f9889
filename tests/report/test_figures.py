"""The figures (report/figures.py): a method's style kept across figures, L2R-AL emphasised, bands cut to
the metric's range and thinned with many methods, the paper's marks, the legend outside, captions."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from helpers import table  # noqa: E402
from l2ral_lib.report import figure_style, figures, stats, tables  # noqa: E402
from l2ral_lib.report.labels import METHOD_ORDER, method_label  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def curves(gains: dict, metric="accuracy", seeds=(0, 1, 2), base=50.0, step=10.0, spread=1.0, sizes=(100, 200, 300)):
    """A results table: `method` at base + step * cycle + gain, seed s adding spread * s."""
    rows = [dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=n, metric=metric,
                 value=base + step * cycle + gain + spread * seed)
            for method, gain in gains.items() for seed in seeds for cycle, n in enumerate(sizes)]
    return pd.DataFrame(rows)


def line(ax, label):
    return next(l for l in ax.get_lines() if l.get_label() == label)


def band_colours(ax):
    return [to_hex(c.get_facecolor()[0], keep_alpha=False) for c in ax.collections]


def test_a_method_keeps_its_colour_and_marker_in_every_figure():
    small = figures.learning_curve(curves({"random": 0, "l2r": 2}), "accuracy")
    large = figures.learning_curve(curves({m: i for i, m in enumerate(METHOD_ORDER)}), "accuracy")
    aubc = figures.aubc_plot(curves({"vaal": 0, "l2r": 1, "random": 2}), "accuracy")
    for method in ("random", "l2r"):
        a, b = line(small, method_label(method)), line(large, method_label(method))
        assert to_hex(a.get_color()) == to_hex(b.get_color()) == figure_style.style(method).colour
        assert a.get_marker() == b.get_marker() == figure_style.style(method).marker
    dots = {to_hex(l.get_color()) for l in aubc.get_lines() if l.get_marker() not in ("None", "|")}
    assert dots == {figure_style.style(m).colour for m in ("vaal", "l2r", "random")}
    assert figure_style.palette(["l2r", "unknown-method"]) == figure_style.palette(["unknown-method", "l2r"])


def test_l2r_is_the_emphasised_line():
    ax = figures.learning_curve(curves({"random": 0, "entropy": 1, "l2r": 2}), "accuracy")
    width = {l.get_label(): l.get_linewidth() for l in ax.get_lines()}
    order = {l.get_label(): l.get_zorder() for l in ax.get_lines()}
    assert width["L2R-AL"] >= 2 * max(width["Random"], width["Entropy"])
    assert order["L2R-AL"] > max(order["Random"], order["Entropy"])


def test_learning_curve_band_is_the_t_interval():
    ax = figures.learning_curve(table(), "accuracy")
    band = ax.collections[0].get_paths()[0].vertices  # Random: seeds 0, 1 give 50/51, 60/61, 70/71
    half = scipy.stats.t.ppf(0.975, 1) * np.std([0, 1], ddof=1) / np.sqrt(2)
    assert band[:, 1].max() == pytest.approx(70.5 + half) and band[:, 1].min() == pytest.approx(50.5 - half)
    assert "band: 95 % t-interval, 2 seeds" in ax.get_title()
    assert "higher is better" in ax.get_ylabel()


@pytest.mark.parametrize("metric, base, spread, floor, ceiling", [
    ("accuracy", 80.0, 8.0, 0.0, 100.0),  # seeds at 80, 88, 96 +10 a cycle: a t-interval far past 100
    ("pckh", 1.0, 8.0, 0.0, 100.0),
    ("spearman", 0.6, 0.3, -1.0, 1.0),
    ("mae", 0.5, 3.0, 0.0, np.inf),  # falls below 0 unless cut
])
def test_bands_never_leave_the_metrics_range(metric, base, spread, floor, ceiling):
    step = -0.1 if metric == "mae" else (0.1 if metric == "spearman" else 10.0)
    data = curves({"random": 0, "l2r": 0}, metric=metric, base=base, spread=spread, step=step)
    raw = stats.curve_summary(data, metric)
    assert raw.ci_high.max() > ceiling or raw.ci_low.min() < floor  # the interval itself does leave it
    ax = figures.learning_curve(data, metric)
    vertices = np.concatenate([p.vertices for c in ax.collections for p in c.get_paths()])
    assert vertices[:, 1].max() <= ceiling and vertices[:, 1].min() >= floor
    assert "cut to the metric's range" in figure_style.caption(ax)


def test_aubc_whiskers_never_leave_the_metrics_range():
    ax = figures.aubc_plot(curves({"random": 0, "l2r": 1}, base=85.0, spread=8.0, step=5.0), "accuracy")
    ends = np.concatenate([l.get_xdata() for l in ax.get_lines()]).astype(float)
    assert ends.max() <= 100.0


def test_with_many_methods_only_l2r_and_the_best_baseline_are_shaded():
    gains = {"random": 0, "entropy": 3, "coreset": 1, "vaal": 0.5, "ll4al": -1, "l2r": 2, "l2r-mse": 5}
    ax = figures.learning_curve(curves(gains), "accuracy")  # 7 methods; l2r-mse is best but no baseline
    assert sorted(band_colours(ax)) == sorted([figure_style.style("l2r").colour, figure_style.style("entropy").colour])
    assert "(shaded: Entropy, L2R-AL)" in ax.get_title()
    mae = curves({m: -g for m, g in gains.items()}, metric="mae", base=100, step=-10)
    ax = figures.learning_curve(mae, "mae")  # lower is better: Entropy again
    assert figure_style.style("entropy").colour in band_colours(ax)
    few = figures.learning_curve(curves({m: gains[m] for m in list(gains)[:6]}), "accuracy")
    assert len(few.collections) == 6  # up to 6 methods: every band
    assert figures.best_baseline(curves(gains), "accuracy") == "entropy"


def display_x(ax, artist) -> float:
    """The x of a one-point line in display coordinates, after drawing."""
    ax.figure.canvas.draw()
    return float(artist.get_transform().transform(np.column_stack([artist.get_xdata(), artist.get_ydata()]))[0, 0])


def paper_lines(ax):
    return [l for l in ax.get_lines() if l.get_linestyle() == "None" and len(l.get_xdata())
            and l.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))]


def test_paper_marks_at_the_right_margin_when_beyond_the_axis():
    data = curves({"random": 0, "l2r": 2})  # ends at 300 labeled, accuracy 70-75
    ax = figures.learning_curve(data, "accuracy", paper={"l2r": 74.0, "random": 73.9, "vaal": 1.0}, paper_at=1000)
    marks = paper_lines(ax)
    assert len(marks) == 2  # VAAL did not run here: no mark
    right = ax.get_window_extent().x1
    assert all(display_x(ax, mark) > right for mark in marks)
    assert len({display_x(ax, mark) for mark in marks}) == 2  # two close values: two columns
    assert sorted(float(mark.get_ydata()[0]) for mark in marks) == [73.9, 74.0]  # at their own height
    assert any("paper\n@1,000" == t.get_text() for t in ax.texts)
    assert "Right margin: the paper's final values at 1,000 labeled" in figure_style.caption(ax)
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 > max(mark.get_window_extent(ax.figure.canvas.get_renderer()).x1 for mark in marks)


def test_paper_marks_far_off_the_scale_are_listed_at_the_edge():
    ax = figures.learning_curve(curves({"random": 0, "l2r": 2}), "accuracy", paper={"l2r": 99.5}, paper_at=10000)
    assert ax.get_ylim()[1] < 99.5  # the curves (50-75) keep their scale
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("\u2191")] == ["\u219199.5"]


def test_paper_marks_in_the_axes_when_the_curves_go_past_them():
    ax = figures.learning_curve(curves({"random": 0, "l2r": 2}), "accuracy", paper={"l2r": 72.0}, paper_at=200)
    (mark,) = paper_lines(ax)
    assert list(mark.get_xdata()) == [200] and display_x(ax, mark) < ax.get_window_extent().x1
    ax = figures.learning_curve(curves({"random": 0, "l2r": 2}), "accuracy", paper={"l2r": 72.0}, paper_at=300)
    (mark,) = paper_lines(ax)  # the paper's budget is this run's last: in the margin, beside the curves' ends
    assert display_x(ax, mark) > ax.get_window_extent().x1
    assert "this run's last cycle" in figure_style.caption(ax)
    final = tables.metric_table(table(), "accuracy", paper={"l2r": 90.95}, paper_at=1000)
    assert final.loc["L2R-AL", "paper final, 1,000 labeled (%)"] == "90.95 (rank 1)"


def test_the_legend_sits_outside_the_axes():
    for ax in (figures.learning_curve(curves({m: i for i, m in enumerate(METHOD_ORDER)}), "accuracy"),
               figures.learning_curve(table(), "accuracy", paper={"l2r": 90.0}, paper_at=10000)):
        ax.figure.canvas.draw()
        assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
        assert ax.get_legend().get_frame_on()


def test_captions_say_what_the_band_is():
    ax = figures.learning_curve(curves({"random": 0, "l2r": 1}, seeds=range(5)), "accuracy")
    assert "band: 95 % t-interval, 5 seeds" in figure_style.caption(ax)
    one = figures.learning_curve(curves({"random": 0, "l2r": 1}, seeds=(0,)), "accuracy")
    assert "one seed, no band" in figure_style.caption(one) and not one.collections
    assert "whiskers: 95 % t-interval over 3 seeds" in figure_style.caption(figures.aubc_plot(curves({"l2r": 0}), "accuracy"))
    matrix = stats.penalty_matrix(curves({"random": 0, "l2r": 1}), "accuracy")
    assert "paired t-test over seeds" in figure_style.caption(figures.penalty_heatmap(matrix))


def test_spearman_plot_draws_the_free_ranker_when_measured():
    data = curves({"ll4al": 0.0, "l2r": 0.1}, metric="spearman", base=0.2, step=0.1, spread=0.01)
    ax = figures.spearman_plot(data)
    assert figures.ENTROPY_LINE not in [l.get_label() for l in ax.get_lines()]
    free = curves({"l2r": 0.3, "ll4al": 0.0}, metric="spearman_entropy", base=0.2, step=0.1, spread=0.01)
    ax = figures.spearman_plot(pd.concat([data, free]), paper={"l2r": 0.977}, paper_at=10000)
    entropy = line(ax, figures.ENTROPY_LINE)
    assert entropy.get_linestyle() == "--" and to_hex(entropy.get_color()) == figure_style.style("l2r").colour
    assert list(entropy.get_ydata()) == pytest.approx([0.51, 0.61, 0.71])  # L2R-AL's rows only, mean of 3 seeds
    assert "Dashed: entropy of the L2R-AL target (free ranker)" in figure_style.caption(ax)
    assert figures.ENTROPY_LINE in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Spearman" in ax.get_ylabel()


def test_aubc_plot_orders_methods_best_first_in_the_metrics_direction():
    ax = figures.aubc_plot(table(), "accuracy")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L2R-AL", "Random"]  # top to bottom
    mae = table().assign(metric=lambda t: t.metric.replace("accuracy", "mae"))
    ax = figures.aubc_plot(mae, "mae")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Random", "L2R-AL"] and "lower is better" in ax.get_xlabel()


def test_penalty_heatmap_shows_cells_and_column_means():
    matrix = pd.DataFrame([[np.nan, 0.5], [0.0, np.nan]], index=["random", "l2r"], columns=["random", "l2r"])
    matrix.attrs = dict(metric="accuracy", cycles=2, seeds=3, excluded=["vaal"])
    ax = figures.penalty_heatmap(matrix)
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.50"]
    below = ax.child_axes[0]
    assert [t.get_text() for t in below.texts] == ["0.00", "0.50"]  # Random never beaten, L2R-AL half the cycles
    assert "left out: VAAL" in ax.get_title() and "left out: VAAL" in figure_style.caption(ax)
    matrix.attrs = dict(metric="accuracy", cycles=2, seeds=3, excluded=[], planned={"random": 2})
    assert "2 cycles x 3 seeds (Random on 2, by the seed plan: each pair on the seeds both have)" in \
        figure_style.caption(figures.penalty_heatmap(matrix))
    empty = figures.penalty_heatmap(stats.penalty_matrix(table()[table().seed == 0], "accuracy"))
    assert "n/a (1 seed)" in empty.texts[0].get_text()


def test_a_long_method_name_heads_its_column_on_several_short_lines():
    """An upright column label as long as 'LL4AL, early detach (sensitivity)' would push the matrix down,
    away from the panel above it: it is wrapped; the row labels keep one line."""
    methods = ["random", "ll4al-early-detach", "l2r", "l2r-all-features"]
    matrix = pd.DataFrame(np.full((4, 4), 0.0), index=methods, columns=methods)
    matrix.attrs = dict(metric="accuracy", cycles=2, seeds=3)
    ax = figures.penalty_heatmap(matrix)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["Random", "L2R-AL", "Rank-all-features", "LL4AL, early detach (sensitivity)"]  # one line each
    assert columns[:3] == rows[:3]  # a hyphenated word is not cut, though longer than a line
    assert columns[3] == "LL4AL, early\ndetach\n(sensitivity)"


def test_penalty_heatmap_with_more_than_8_methods_has_no_cell_numbers():
    def matrix(n):
        methods = METHOD_ORDER[:n]
        values = np.full((n, n), 0.25)
        np.fill_diagonal(values, np.nan)
        m = pd.DataFrame(values, index=methods, columns=methods)
        m.attrs = dict(metric="accuracy", cycles=4, seeds=3)
        return m

    assert len(figures.penalty_heatmap(matrix(8)).texts) == 8 * 7
    ax = figures.penalty_heatmap(matrix(9))
    assert not ax.texts
    assert len(ax.child_axes[0].texts) == 9  # the column means stay, upright
    assert any(child.get_ylabel() == "share of cycles the row beats the column" for child in ax.child_axes)


def test_lines_that_coincide_are_named():
    data = curves({"random": 0, "entropy": 2, "margin": 2, "least-confidence": 2, "l2r": 1})
    assert figures.coinciding(data, "accuracy") == {"margin": "entropy", "least-confidence": "entropy"}
    ax = figures.learning_curve(data, "accuracy")
    labels = [l.get_label() for l in ax.get_lines()]
    assert "Margin (= Entropy)" in labels and "Least confidence (= Entropy)" in labels and "Entropy" in labels
    assert "Entropy, Margin and Least confidence measure the same" in figure_style.caption(ax)
    assert figures.coinciding(curves({"random": 0, "l2r": 1}), "accuracy") == {}
