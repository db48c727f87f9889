"""The one-page summary over an outputs folder with 0, 1 or several studies (hand-made results tables)."""
import json

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import papermill  # noqa: E402
import pytest  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.report import readme, stats, summary  # noqa: E402


def write_study(outputs, name, metric, gains, seeds=(0, 1, 2), promised_seeds=None, dataset=None, cycles=3):
    """A study folder as `make <experiment>` leaves it: results.csv (+ timing rows) and params.json."""
    rng = np.random.default_rng(len(name))
    rows = []
    for method, gain in gains.items():
        for seed in seeds:
            for cycle in range(cycles):
                value = 50 + 5 * cycle + gain * cycle + rng.normal(0, 0.3) + 3 * seed
                for m, v in ((metric, value), ("time_train_s", 1.0)):
                    rows.append(dict(dataset=dataset or name.split("-")[0], method=method, seed=seed, cycle=cycle,
                                     n_labeled=100 * (cycle + 1), metric=m, value=v))
    folder = outputs / name
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    params = {"experiment": name, "dataset": dataset or name.split("-")[0], "strategies": list(gains),
              "seeds": list(promised_seeds or seeds), "initial_labeled": 100, "query_size": 100,
              "max_labeled": 100 * cycles}
    (folder / "params.json").write_text(json.dumps(params))
    return folder


@pytest.fixture
def several(tmp_path):
    out = tmp_path / "outputs"
    base = {"random": 0.0, "entropy": 1.0, "l2r": 2.0}
    write_study(out, "cifar10-smoke", "accuracy", base)
    write_study(out, "cifar10-ablations", "accuracy", {**base, "l2r-mse": 0.5})
    # stopped after 2 of its 3 seeds; MAE falls as labels grow when the gains are negative
    write_study(out, "shanghaitech-smoke", "mae", {"random": -1.0, "l2r": -2.0}, seeds=(0, 1), promised_seeds=(0, 1, 2))
    (out / "summary").mkdir()  # the summary's own folder and the sorter report are no studies
    (out / "sorter").mkdir()
    (out / "sorter" / "sorter_quality.csv").write_text("kind,seq_len\n")
    return out


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
    assert "95% t-interval" in curve.get_title() and [t.get_text() for t in aubc.get_xticklabels()][0] == "L2R-AL"
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


def test_readme_tables_give_the_final_and_aubc_of_each_method(several):
    """Final-cycle mean and AUBC mean against numpy on the raw rows; the stopped study says so."""
    text = readme.results_markdown(summary.find_studies(several))
    table = pd.read_csv(several / "cifar10-smoke" / "results.csv")
    l2r = table[(table.method == "l2r") & (table.metric == "accuracy")].pivot(index="seed", columns="cycle",
                                                                             values="value")
    final = l2r[2].mean()
    aubc = np.mean([np.trapezoid(row, [0, 0.5, 1]) for row in l2r.values])
    block = text.split("**cifar10-smoke**")[1].split("**")[0]
    line = next(line for line in block.splitlines() if line.startswith("| L2R-AL |"))
    assert f"| {final:.4g}  [" in line and f"| {aubc:.4g}  [" in line
    assert "**shanghaitech-smoke** (MAE (lower is better); 3 seeds; finished: no" in text
    text_before = f"intro\n{readme.README_START}\nstale\n{readme.README_END}\nrest\n"
    assert readme.rendered_readme(text_before, summary.find_studies(several)) == (
        f"intro\n{readme.README_START}\n{text}\n{readme.README_END}\nrest\n")


def test_readme_results_are_the_committed_results():
    """The README's Results tables are regenerated from outputs/*/results.csv as committed: a number
    edited by hand, or a study rerun without `make readme-results`, fails here."""
    committed = (ROOT / "README.md").read_text()
    assert readme.rendered_readme(committed, summary.find_studies(ROOT / "outputs")) == committed
