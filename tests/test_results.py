"""Results table helpers and figures."""
import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402

from l2ral_lib import results  # noqa: E402


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


def test_summary_and_final_table():
    final = results.final_cycle_table(table(), "accuracy", paper={"l2r": 90.95})
    assert list(final.index) == ["random", "l2r"]  # paper's method order
    assert final.loc["l2r", "mean"] == 72.5 and final.loc["l2r", "seeds"] == 2 and final.loc["l2r", "paper"] == 90.95
    assert round(final.loc["random", "std"], 4) == 0.7071


def test_learning_curve_draws_one_line_per_method_plus_paper_marks(tmp_path):
    ax = results.learning_curve(table(), "accuracy", paper={"l2r": 90.95, "vaal": 87.0}, title="t")
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Random" in labels and "L2R-AL (ours)" in labels and "paper, final cycle" in labels
    assert "2 seeds" in ax.get_title() and "sd" in ax.get_title()
    path = results.save_figure(ax, tmp_path, "fig")
    assert path.stat().st_size > 5000


def test_paper_marks_only_where_the_curve_ends_at_the_papers_final_cycle():
    marks = lambda ax: [line for line in ax.get_lines() if line.get_marker() == "D" and len(line.get_xdata())]
    ax = results.learning_curve(table(), "accuracy", paper={"l2r": 90.95}, paper_at=300)
    assert [list(line.get_xdata()) for line in marks(ax)] == [[300]]
    ax = results.learning_curve(table(), "accuracy", paper={"l2r": 90.95}, paper_at=1000)  # a smoke run stops at 300
    assert not marks(ax)
    assert any("at 1000 labeled, beyond this run" in line.get_label() for line in ax.get_lines())
    final = results.final_cycle_table(table(), "accuracy", paper={"l2r": 90.95}, paper_at=1000)
    assert final.loc["l2r", "paper at 1000"] == 90.95


def test_timing_table_sums_cycles():
    timing = results.timing_table(table())
    assert timing.loc["random", "train"] == 3.0
