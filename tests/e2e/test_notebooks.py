"""Notebook templates: stripped, one parameters cell, papermill sees every parameter; each runs end to end on `ci`."""
import json

import nbformat
import pandas as pd
import papermill
import pytest

from helpers import ROOT
from l2ral_lib import notebook
from l2ral_lib.executors import local
from l2ral_lib.sorter import KINDS
from l2ral_lib.sorter.synthetic import FAMILIES, SODEEP_FAMILIES
from helpers import make_celeba

TEMPLATES = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_is_stripped_with_one_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in notebook.cells) == 1


EXPERIMENT_PARAMETERS = {"params_path", "device", "out_dir", "data_root", "jobs", "progress", "collect"}


EXPERIMENTS = [p for p in TEMPLATES if p.stem not in ("sorter", "summary", "loss_ranking", "explore")]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_papermill_parses_every_parameter(path):
    """Regression: a quote inside a parameter's comment made papermill skip the line and warn
    'Passed unknown parameter: out_dir' on every make run."""
    assert set(papermill.inspect_notebook(str(path))) == EXPERIMENT_PARAMETERS


def test_summary_parameters():
    assert set(papermill.inspect_notebook(str(ROOT / "notebooks" / "summary.ipynb"))) == {"outputs_dir", "out_dir"}


def test_loss_ranking_parameters():
    assert set(papermill.inspect_notebook(str(ROOT / "notebooks" / "loss_ranking.ipynb"))) == {"out_dir"}


def stream_texts(path, name):
    notebook = nbformat.read(path, as_version=4)
    return [o.text for c in notebook.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "stream" and o.name == name]


@pytest.mark.slow
def test_cifar10_notebook_runs_on_ci_profile(tmp_path, tiny_data_root):
    out = tmp_path / "cifar10-ci"
    executed = tmp_path / "cifar10.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "cifar10.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        parameters={"params_path": "params/cifar10-ci.yaml", "device": "cpu", "out_dir": str(out),
                    "data_root": str(tiny_data_root), "progress": False})
    assert (out / "results.csv").is_file() and (out / "params.json").is_file() and (out / "provenance.json").is_file()
    for figure in ("fig4_accuracy", "fig5_spearman", "aubc_accuracy", "penalty_accuracy"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    params = json.loads((out / "params.json").read_text())
    assert params["study"] == "cifar10-ci"
    # readable: the precision line, then one progress line per (method, seed, cycle) and nothing else on
    # stderr (no tqdm / ipywidgets warning)
    precision, *stderr = "".join(stream_texts(executed, "stderr")).splitlines()
    assert precision.endswith("cifar10-ci on cpu: float32 (amp: false)")
    n_cycles = (params["max_labeled"] - params["initial_labeled"]) // params["query_size"] + 1
    assert len(stderr) == len(params["strategies"]) * len(params["seeds"]) * n_cycles
    assert all(" cycles done, elapsed " in line for line in stderr)
    # the params as a key/value table in the appendix: one row per key
    html = next(o.data["text/html"] for c in nbformat.read(executed, as_version=4).cells
                if "page.appendix(params, out)" in c.source for o in c.outputs
                if "data" in o and "resolved params" in o.data.get("text/html", ""))
    # the index-name header row, then a row per key (the column header row carries a style)
    assert html.count("<tr>") == 1 + len(params) and "L2R-AL (ours)" not in executed.read_text()


@pytest.mark.slow
def test_cifar10_notebook_compares_the_two_sorters_when_both_run(tmp_path, tiny_data_root):
    """With l2r and l2r-gru-sorter in a study, the notebook shows both sorters' recorded quality at the
    study's list length and the paired differences of the second to the first."""
    params_file = tmp_path / "two-sorters.yaml"
    params_file.write_text(f"base: {ROOT / 'params' / 'cifar10-ci.yaml'}\nstudy: two-sorters\n"
                           "strategies: [random, l2r, l2r-gru-sorter]\nseeds: [0, 1]\n")
    executed = tmp_path / "cifar10.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "cifar10.ipynb"), str(executed), cwd=str(ROOT), kernel_name="python3",
        parameters={"params_path": str(params_file), "device": "cpu", "out_dir": str(tmp_path / "out"),
                    "data_root": str(tiny_data_root)})
    cell = next(c for c in nbformat.read(executed, as_version=4).cells if "sorter_quality(" in c.source)
    shown = [o.data["text/html"] for o in cell.outputs if "data" in o and "text/html" in o.data]
    assert len(shown) == 3  # the quality table, then the Spearman and accuracy differences
    record = json.loads((ROOT / "l2ral_lib" / "sorter_weights" / "gru-4.json").read_text())["validation"]
    assert f"{record['loss_like']['spearman']:.3f}" in shown[0] and "L2R-AL (GRU sorter)" in shown[1]


@pytest.mark.slow
def test_notebook_starts_the_jobs_workers_and_passes_their_lines_on(tmp_path, tiny_data_root, monkeypatch, capsys):
    """With jobs > 1 the notebook starts the --jobs workers itself (executors.local, no CLI process between),
    and their progress lines reach sys.stderr, what a cell shows (their file descriptor 2 does not)."""
    started, popen = [], local.subprocess.Popen

    def recorded(command, **kwargs):
        started.append(command)
        return popen(command, **kwargs)

    monkeypatch.setattr(local.subprocess, "Popen", recorded)
    monkeypatch.chdir(ROOT)  # open_params enters the project root: back where the test was after it
    params_file = tmp_path / "jobs.yaml"
    params_file.write_text(f"base: {ROOT / 'params' / 'cifar10-ci.yaml'}\nstudy: jobs\nstrategies: [random, entropy]\n")
    params, out = notebook.open_params(str(params_file), str(tiny_data_root), str(tmp_path / "out"))
    table = notebook.run(str(params_file), params, "cpu", out, jobs=2, progress=False)
    assert len(started) == 2 and all("--jobs" not in command and "--no-verdict" in command for command in started)
    stderr = capsys.readouterr().err.splitlines()
    assert sum(" cycles done, elapsed " in line for line in stderr) == 2 * params.n_cycles
    assert sorted(table.method.unique()) == ["entropy", "random"]


@pytest.mark.slow
def test_sorter_notebook_runs_on_a_tiny_setting(tmp_path):
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "sorter.ipynb"), str(tmp_path / "sorter.ipynb"), cwd=str(ROOT), kernel_name="python3",
        parameters={"seq_lens": [4], "n_eval": 16, "out_dir": str(tmp_path / "sorter")}, progress_bar=False)
    rows = len(KINDS) * (len(FAMILIES) + len(SODEEP_FAMILIES))  # per kind: both family sets
    assert (tmp_path / "sorter" / "sorter_quality.csv").read_text().count("\n") == 1 + rows
    assert (tmp_path / "sorter" / "figures" / "sorter_quality.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("experiment,figure,metric", [("celeba", "fig6_accuracy", "accuracy"), ("mpii", "fig7_pckh", "pckh"),
                                                      ("shanghaitech", "fig8_mae", "mae")])
def test_experiment_notebook_runs_on_ci_profile(tmp_path, experiment, figure, metric):
    """Generated data in the official layouts (CelebA written here; MPII and ShanghaiTech on first use)."""
    if experiment == "celeba":
        make_celeba(tmp_path / "data")
    out = tmp_path / "out"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{experiment}.ipynb"), str(tmp_path / f"{experiment}.ipynb"), cwd=str(ROOT),
        kernel_name="python3", progress_bar=False,
        parameters={"params_path": f"params/{experiment}-ci.yaml", "device": "cpu", "out_dir": str(out),
                    "data_root": str(tmp_path / "data"), "progress": False})
    table = pd.read_csv(out / "results.csv")
    final = table[(table.metric == metric) & (table.cycle == table.cycle.max())]
    assert set(final.method) == set(json.loads((out / "params.json").read_text())["strategies"])
    for name in (figure, f"aubc_{metric}", f"penalty_{metric}"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000, name
    precision, *stderr = "".join(stream_texts(tmp_path / f"{experiment}.ipynb", "stderr")).splitlines()
    assert " on cpu: float32 (amp: false)" in precision  # the precision line, then progress lines, no warnings
    assert stderr and all(" cycles done, elapsed " in line for line in stderr)
