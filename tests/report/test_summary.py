"""The one-page summary over an outputs folder with 0, 1 or several studies (hand-made results tables)."""
import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import papermill  # noqa: E402
import pytest  # noqa: E402

from helpers import ROOT, write_study  # noqa: E402
from l2ral_lib.report import stats, summary  # noqa: E402


def test_no_study(tmp_path):
    assert summary.find_studies(tmp_path) == []
    assert summary.overview([]).empty and summary.studies_table([]).empty
    assert summary.aggregate_penalty([]).empty


def test_studies_found_with_their_metric_grid_and_status(several):
    studies = summary.find_studies(several)
    assert [s.name for s in studies] == ["cifar10-ablations", "cifar10-smoke", "shanghaitech-smoke"]
    assert [s.metric for s in studies] == ["accuracy", "accuracy", "mae"]
    assert [s.paper_key for s in studies] == ["cifar10", "cifar10", "shanghaitech"]
    listing = summary.studies_table(studies).set_index("study")
    assert listing.loc["cifar10-smoke", "finished"] == "yes"
    assert listing.loc["shanghaitech-smoke", "finished"].startswith("no: Random incomplete: 2/3 seeds")
    assert listing.loc["shanghaitech-smoke", "metric"] == "MAE (lower is better)"


def test_overview_matches_the_statistics_and_the_paper(several):
    studies = {s.name: s for s in summary.find_studies(several)}
    table = summary.overview(list(studies.values()))
    smoke = studies["cifar10-smoke"]
    head = "cifar10-smoke: Accuracy (%) (higher is better), 3 seeds"
    expected = stats.method_summary(smoke.table, "accuracy").set_index(["method", "quantity"]).loc[("l2r", "aubc")]
    assert table.loc["L2R-AL", (head, "AUBC")] == f"{expected['mean']:.4g}  {expected['interval']}"
    assert table.loc["L2R-AL", (head, "rank final / AUBC")] == "1 / 1"
    assert table.loc["Random", (head, "rank final / AUBC")] == "3 / 3"
    assert table.loc["L2R-AL", (head, "paper final (10000 labeled)")] == "90.95 (rank 1)"
    assert table.loc["L2R head + MSE", (head, "final")] == "-"  # not in this study
    st = "shanghaitech-smoke: MAE (lower is better), 3 seeds"
    assert table.loc["L2R-AL", (st, "rank final / AUBC")] == "incomplete / incomplete"
    assert table.loc["Random", (st, "paper final (100 labeled)")] == "11.28 (rank 4)"


def test_aggregate_takes_one_study_per_dataset(several):
    studies = summary.find_studies(several)
    assert [s.name for s in summary.per_dataset(studies)] == ["cifar10-ablations", "shanghaitech-smoke"]
    matrix = summary.aggregate_penalty(studies)
    # shanghaitech-smoke is incomplete (2 of 3 seeds): no cells of its own, the aggregate is the ablations matrix
    alone = stats.penalty_matrix(studies[0].table, "accuracy", studies[0].grid)
    pd.testing.assert_frame_equal(matrix.loc[alone.index, alone.columns], alone, check_names=False)
    assert matrix.attrs["studies"] == ["cifar10-ablations", "shanghaitech-smoke"]
    assert matrix.loc["l2r", "random"] > 0  # l2r's curve climbs 2 a cycle faster on every seed


def test_study_figures_draws_curve_aubc_and_penalty(several):
    study = summary.load_study(several / "cifar10-smoke")
    curve, aubc, penalty = summary.study_figures(study)
    assert "95 % t-interval" in curve.get_title() and [t.get_text() for t in aubc.get_yticklabels()][0] == "L2R-AL"
    assert penalty.child_axes  # the column-mean row under the matrix


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
    figures = sorted(p.name for p in (outputs / "summary" / "figures").iterdir())
    names = {"empty": [], "one": ["celeba-smoke.png"],
             "several": ["cifar10-ablations.png", "cifar10-smoke.png", "shanghaitech-smoke.png"]}[case]
    assert figures == sorted(names + ["penalty_aggregate.png"])
