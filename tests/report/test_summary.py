"""The one-page summary over an outputs folder with 0, 1 or several studies (hand-made results tables)."""
import json
import shutil

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import papermill  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from helpers import ROOT, write_study  # noqa: E402
from l2ral_lib.report import figures, stats, summary, tables  # noqa: E402
from l2ral_lib.report.study import StudyResults, find_studies  # noqa: E402


def test_no_study(tmp_path):
    assert find_studies(tmp_path) == []
    assert summary.overview([]).empty and summary.studies_table([]).empty
    assert summary.aggregate_penalty([]).empty


def test_studies_found_with_their_metric_grid_and_status(several):
    studies = find_studies(several)
    assert [s.name for s in studies] == ["cifar10-ablations", "cifar10-smoke", "shanghaitech-smoke"]
    assert [s.metric for s in studies] == ["accuracy", "accuracy", "mae"]
    assert [s.paper_key for s in studies] == ["cifar10", "cifar10", "shanghaitech"]
    listing = summary.studies_table(studies).set_index("study")
    assert listing.loc["cifar10-smoke", "finished"] == "yes"
    assert listing.loc["shanghaitech-smoke", "finished"] == "no: Entropy incomplete: 1/2 seeds with all 3 cycles"
    assert listing.loc["shanghaitech-smoke", "seeds"] == "2 of 3 seeds"
    assert listing.loc["shanghaitech-smoke", "metric"] == "MAE (lower is better)"


def test_overview_matches_the_statistics_and_the_paper(several):
    studies = {s.name: s for s in find_studies(several)}
    table = summary.overview(list(studies.values()))
    smoke = studies["cifar10-smoke"]
    head = "cifar10-smoke: Accuracy (%) (higher is better), 3 seeds"
    expected = stats.method_summary(smoke.table, "accuracy").set_index(["method", "quantity"]).loc[("l2r", "aubc")]
    assert table.loc["L2R-AL", (head, "AUBC")] == f"{expected['mean']:.4g}  {expected['interval']}"
    assert table.loc["L2R-AL", (head, "rank final / AUBC")] == "1 / 1"
    assert table.loc["Random", (head, "rank final / AUBC")] == "3 / 3"
    assert table.loc["L2R-AL", (head, "paper final (10000 labeled)")] == "90.95 (rank 1)"
    assert table.loc["L2R head + MSE", (head, "final")] == "-"  # not in this study
    st = "shanghaitech-smoke: MAE (lower is better), 2 of 3 seeds"
    assert table.loc["Entropy", (st, "rank final / AUBC")] == "incomplete / incomplete"
    assert table.loc["L2R-AL", (st, "rank final / AUBC")] == "1 / 1"  # on the 2 seeds run so far
    assert table.loc["Random", (st, "rank final / AUBC")] == "2 / 2"
    assert table.loc["Random", (st, "paper final (100 labeled)")] == "11.28 (rank 4)"


def test_study_table_has_one_column_per_study_and_every_study(tmp_path, several):
    studies = find_studies(several)
    aubc = summary.study_table(studies)
    assert list(aubc.columns.get_level_values("study")) == [s.name for s in studies]
    assert list(aubc.columns.get_level_values("metric")) == [
        "Accuracy (%) \u2191, 3 seeds", "Accuracy (%) \u2191, 3 seeds", "MAE \u2193, 2 of 3 seeds"]
    smoke = studies[1]
    expected = stats.method_summary(smoke.table, "accuracy", smoke.grid).set_index(["method", "quantity"])
    row = expected.loc[("l2r", "aubc")]
    assert aubc.loc["L2R-AL", ("cifar10-smoke", "Accuracy (%) \u2191, 3 seeds")] == tables.estimate(
        row["mean"], row.ci_low, row.ci_high, row.n_seeds)
    assert aubc.loc["L2R head + MSE", ("cifar10-smoke", "Accuracy (%) \u2191, 3 seeds")] == "-"  # not run there
    # a growing study reads the seeds it has run: Random's AUBC over seeds 0 and 1 against numpy on the raw rows;
    # Entropy, short of a cycle the others have, is marked
    grown = studies[2].table
    random = grown[(grown.method == "random") & (grown.metric == "mae")].pivot(index="seed", columns="cycle",
                                                                              values="value")
    per_seed = [np.trapezoid(row, [0, 0.5, 1]) for row in random.values]
    low, high = scipy.stats.t.interval(0.95, 1, loc=np.mean(per_seed), scale=scipy.stats.sem(per_seed))
    assert aubc.loc["Random", ("shanghaitech-smoke", "MAE \u2193, 2 of 3 seeds")] == tables.estimate(
        np.mean(per_seed), low, high, 2)
    assert aubc.loc["Entropy", ("shanghaitech-smoke", "MAE \u2193, 2 of 3 seeds")].endswith("(incomplete)")
    final = summary.study_table(studies, "final")
    assert final.shape == aubc.shape and "Final cycle" in final.attrs["caption"]
    # a dozen studies: every one is a column, and the page's HTML shows them all
    many = tmp_path / "many"
    for k in range(12):
        write_study(many, f"cifar10-run{k:02d}", "accuracy", {"random": 0.0, "l2r": 1.0, "entropy": 0.5})
    table = summary.study_table(find_studies(many))
    html = tables.html(table)
    assert table.shape[1] == 12 and "..." not in html
    assert all(f"cifar10-run{k:02d}" in html for k in range(12))


def test_aggregate_counts_every_study_each_setting_once(several):
    # a budget study of the same dataset: another setting, so it counts (one study per dataset would drop it)
    write_study(several, "cifar10-budget", "accuracy", {"random": 0.0, "entropy": 1.5, "l2r": 1.0}, cycles=4)
    write_study(several, "mpii-smoke", "pckh", {"random": 0.0, "l2r": 1.0}, seeds=(0,))  # one seed: no test
    studies = {s.name: s for s in find_studies(several)}
    groups = [[s.name for s in group] for group in summary.by_setting(list(studies.values()))]
    assert groups == [["cifar10-ablations", "cifar10-smoke"], ["cifar10-budget"], ["mpii-smoke"], ["shanghaitech-smoke"]]
    matrix = summary.aggregate_penalty(list(studies.values()))
    assert matrix.attrs["studies"] == ["cifar10-ablations", "cifar10-smoke", "cifar10-budget", "mpii-smoke",
                                       "shanghaitech-smoke"]
    assert matrix.attrs["settings"] == groups
    per_study = {name: stats.penalty_matrix(s.table, s.metric, s.observed) for name, s in studies.items()}
    # the two CIFAR-10 settings count once each; shanghaitech-smoke on the 2 of its 3 seeds it has run
    smoke = (per_study["cifar10-ablations"] + per_study["cifar10-smoke"]) / 2
    assert matrix.loc["l2r", "random"] == pytest.approx((smoke.loc["l2r", "random"]
                                                         + per_study["cifar10-budget"].loc["l2r", "random"]
                                                         + per_study["shanghaitech-smoke"].loc["l2r", "random"]) / 3)
    assert matrix.loc["l2r-mse", "random"] == per_study["cifar10-ablations"].loc["l2r-mse", "random"]  # one setting
    assert matrix.attrs["experiments"]["random"]["l2r"] == 3  # settings behind the cell, not studies
    assert matrix.attrs["experiments"]["random"]["entropy"] == 2  # not shanghaitech-smoke's: Entropy is behind there
    assert summary.aggregate_title(matrix) == "Aggregate penalty matrix: 4 settings, 5 studies"
    assert matrix.attrs["no_cells"] == ["mpii-smoke"]
    title = figures.penalty_heatmap(matrix).get_title().replace("\n", " ")
    assert "4 settings, each counted once: cifar10-ablations + cifar10-smoke; cifar10-budget;" in title
    assert "no complete pair to compare in mpii-smoke" in title


def test_a_setting_ignores_how_a_study_was_computed(several, tmp_path):
    smoke = StudyResults(several / "cifar10-smoke")

    def variant(name, **changed):  # the study copied, its recorded params changed
        shutil.copytree(smoke.path, tmp_path / name)
        (tmp_path / name / "params.json").write_text(json.dumps({**smoke.recorded, **changed}))
        return StudyResults(tmp_path / name)

    fp32 = variant("cifar10-smoke-fp32", amp=False, rank_loss=None, study="cifar10-smoke-fp32")
    assert summary.setting(fp32) == summary.setting(smoke)
    assert summary.setting(variant("x", model_width=16)) != summary.setting(smoke)


def test_study_figures_draws_curve_aubc_and_penalty_without_overlap(several):
    study = StudyResults(several / "cifar10-ablations")
    curve, aubc, penalty = summary.study_figures(study)
    assert "95 % t-interval" in curve.get_title() and [t.get_text() for t in aubc.get_yticklabels()][0] == "L2R-AL"
    assert penalty.child_axes  # the column-mean row under the matrix
    figure = curve.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = curve.get_legend().get_window_extent(renderer)
    for ax in (curve, aubc, penalty):
        assert not legend.overlaps(ax.title.get_window_extent(renderer))
    for ax in (aubc, penalty):
        assert not legend.overlaps(ax.get_window_extent(renderer))
    assert not legend.overlaps(curve.get_window_extent(renderer))
    assert figure.get_size_inches()[1] >= 10  # one study per figure, at a readable height


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "one", "several"])
def test_summary_notebook_runs(tmp_path, several, case):
    if case == "empty":
        outputs = tmp_path / "empty"
        outputs.mkdir()
    elif case == "one":
        outputs = tmp_path / "one"
        write_study(outputs, "celeba-smoke", "accuracy", {"random": 0.0, "l2r": 1.0}, seeds=(0,))
    else:
        outputs = several
    executed = outputs / "summary.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "summary.ipynb"), str(executed), cwd=str(ROOT),
                               kernel_name="python3", progress_bar=False, parameters={"outputs_dir": str(outputs)})
    streams = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "stream"]
    assert not [o.text for o in streams if o.name == "stderr"]  # no warning in the rendered page
    saved = sorted(p.name for p in (outputs / "summary" / "figures").iterdir())
    names = {"empty": [], "one": ["celeba-smoke.png"],
             "several": ["cifar10-ablations.png", "cifar10-smoke.png", "shanghaitech-smoke.png"]}[case]
    assert saved == sorted(names + ["penalty_aggregate.png"])
