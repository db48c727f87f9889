"""examples/l2ral-plugin-example installed as a user would (pip, not editable): `list` names its strategy
and a study runs it in one process, in `--jobs 2` worker processes and in Slurm array tasks, each process
loading the entry point itself."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch

from helpers import ROOT

EXAMPLE = ROOT / "examples" / "l2ral-plugin-example"
PLUGIN = {"l2ral.strategies": {"ratio-of-confidence": "l2ral-plugin-example 0.1.0"}}


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """The environment of a process that has the example installed: pip's --target folder on PYTHONPATH.
    Built from a copy, so that the build leaves nothing in the checkout; --target, so that pip neither
    sees nor touches the packages of this interpreter's environment."""
    tmp = tmp_path_factory.mktemp("plugin")
    shutil.copytree(EXAMPLE, tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(tmp / "site"), str(tmp / "src")], check=True, capture_output=True, timeout=300)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp / "site"), *filter(None, [os.environ.get("PYTHONPATH")])])}


def cli(*args, env):
    """The CLI in a process of its own: (exit status, stdout, stderr, its pid)."""
    with subprocess.Popen([sys.executable, "-m", "l2ral_lib", *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as process:
        out, err = process.communicate(timeout=600)
    return process.returncode, out, err, process.pid


def test_list_shows_the_installed_plugin(plugin_env):
    code, out, err, _ = cli("list", env=plugin_env)
    assert code == 0, err
    strategies = out.splitlines()[0].removeprefix("strategies: ").split(", ")
    assert "ratio-of-confidence" in strategies and "margin" in strategies
    assert "plugins:    ratio-of-confidence (l2ral.strategies, l2ral-plugin-example 0.1.0)" in out.splitlines()
    assert "ratio-of-confidence" not in cli("list", env={**plugin_env, "PYTHONPATH": ""})[1]


@pytest.mark.slow
def test_a_study_runs_the_plugin_in_one_process_and_in_jobs_workers(plugin_env, tmp_path, tiny_data_root):
    common = ["run", "params/cifar10-ci.yaml", "--device", "cpu", "--no-progress", "--set", f"data_root={tiny_data_root}",
              "--set", "strategies=[random, ratio-of-confidence]"]
    single = cli(*common, "--out", str(tmp_path / "single"), env=plugin_env)
    assert single[0] == 0, single[2]
    jobs = cli(*common, "--out", str(tmp_path / "jobs"), "--jobs", "2", env=plugin_env)
    assert jobs[0] == 0, jobs[2]
    a, b = (pd.read_csv(tmp_path / name / "results.csv") for name in ("single", "jobs"))
    assert set(a.method) == {"random", "ratio-of-confidence"}
    pd.testing.assert_frame_equal(measured(a), measured(b))
    # the process that computed each slice loaded the plugin and recorded its package and version: the CLI's
    # own process, or with --jobs the workers it started
    for name, run in (("single", single), ("jobs", jobs)):
        slices = json.loads((tmp_path / name / "provenance.json").read_text())["slices"]
        assert {slice_: runs[-1]["plugins"] for slice_, runs in slices.items()} == \
            {"random-seed0": PLUGIN, "ratio-of-confidence-seed0": PLUGIN}
        pids = {runs[-1]["pid"] for runs in slices.values()}
        assert pids == {run[3]} if name == "single" else run[3] not in pids


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_tasks_load_the_plugin_and_equal_the_study_run_here(plugin_env, slurm_cluster, tmp_path, tiny_data_root):
    """Each array task is a fresh process on the node: it finds the plugin through the environment the
    submission exported and computes the rows of the same study run here on the tasks' thread count."""
    common = ["run", "params/cifar10-ci.yaml", "--device", "cpu", "--no-progress", "--set", f"data_root={tiny_data_root}",
              "--set", "strategies=[random, ratio-of-confidence]"]
    slurm = cli(*common, "--out", str(tmp_path / "slurm"), "--executor", "slurm", "--wait",
                "--set", "cluster.time_min=5", env=plugin_env)
    assert slurm[0] == 0, slurm[1] + slurm[2]
    assert "2 task(s), one per slice" in slurm[1]
    # the reference on the tasks' thread count (cluster.cpus_per_task of the ci profile: 1)
    here = cli(*common, "--out", str(tmp_path / "here"), env={**plugin_env, "OMP_NUM_THREADS": "1"})
    assert here[0] == 0, here[2]
    a, b = (pd.read_csv(tmp_path / name / "results.csv") for name in ("slurm", "here"))
    assert set(a.method) == {"random", "ratio-of-confidence"}
    pd.testing.assert_frame_equal(measured(a), measured(b))
    slices = json.loads((tmp_path / "slurm" / "provenance.json").read_text())["slices"]
    assert {slice_: runs[-1]["plugins"] for slice_, runs in slices.items()} == \
        {"random-seed0": PLUGIN, "ratio-of-confidence-seed0": PLUGIN}
    assert slurm[3] not in {runs[-1]["pid"] for runs in slices.values()}


def measured(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that must not depend on where a slice ran (timings do)."""
    return table[~table.metric.str.startswith("time_")].reset_index(drop=True)


def test_ratio_of_confidence_orders_otherwise_than_margin():
    """The example's score, read from its source (importing its strategy module would register it here):
    the docstring's two samples, top two probabilities (0.45, 0.35) and (0.25, 0.17) of ten classes."""
    spec = importlib.util.spec_from_file_location("example_scores", EXAMPLE / "l2ral_plugin_example" / "scores.py")
    scores = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scores)
    probabilities = torch.tensor([[0.45, 0.35] + [0.2 / 8] * 8, [0.25, 0.17] + [0.58 / 8] * 8])
    ratio = scores.ratio_of_confidence(probabilities.log())
    torch.testing.assert_close(ratio, torch.tensor([0.35 / 0.45, 0.17 / 0.25]))
    margin = probabilities[:, 0] - probabilities[:, 1]
    assert ratio.argmax() == 0 and margin.argmin() == 1  # ratio queries the first, margin sampling the second
