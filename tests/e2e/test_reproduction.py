"""A newcomer's reproduction: a study committed to git, rerun in a fresh clone, says at its start
what it will compute and how to restore the committed study, counts its progress right from the first
line, resumes after an interruption, and ends with the verdict against the committed study."""
import json
import logging
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch

from l2ral_lib import loop
from l2ral_lib.__main__ import main
from l2ral_lib.outputs import StudyFolder
from l2ral_lib.provenance import computing_runs, recorded_cpu_threads
from l2ral_lib.study_folder import RESULT_COLUMNS
from l2ral_lib.reproduction import Committed, committed_study, compare, threads_line, verdict_lines
from helpers import ROOT

STRATEGIES = "strategies=[random, l2r]"
DONE = re.compile(r": (?P<method>\S+) seed \d+ cycle (?P<cycle>\d+) .* \| (?P<done>\d+)/(?P<total>\d+) cycles done")


def git(folder, *args):
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=folder, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def origin(tmp_path_factory, tiny_data_root):
    """A repository whose outputs/cifar10-ci holds a finished ci study, committed as a study ships: no state."""
    repo = tmp_path_factory.mktemp("origin")
    out = repo / "outputs" / "cifar10-ci"
    assert main(["run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--set", f"data_root={tiny_data_root}", "--set", STRATEGIES]) == 0
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "the study as shipped")
    assert not any(".lock" in f or "state.pt" in f for f in git(repo, "ls-files").split())
    return repo


def run(out, data_root):
    return main(["run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--set", f"data_root={data_root}", "--set", STRATEGIES])


def progress_lines(caplog):
    return [DONE.search(r.getMessage()).groupdict() for r in caplog.records if r.name == "l2ral_lib.progress"]


def test_a_fresh_clone_reproduces_the_committed_study_with_right_counts_across_an_interruption(
        origin, tmp_path, tiny_data_root, monkeypatch, capsys, caplog):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    out = clone / "outputs" / "cifar10-ci"
    committed = pd.read_csv(out / "results.csv")
    caplog.set_level(logging.INFO, logger="l2ral_lib")
    restore = "git checkout -- outputs/cifar10-ci && git clean -fdX -- outputs/cifar10-ci"

    calls, query = {"n": 0}, loop.Study.query

    def interrupted(self, *args, **kwargs):  # Ctrl-C after l2r's first cycle was saved (l2r runs first)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return query(self, *args, **kwargs)

    monkeypatch.setattr(loop.Study, "query", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(out, tiny_data_root)
    monkeypatch.setattr(loop.Study, "query", query)
    start = capsys.readouterr().out.splitlines()[0]
    assert start == ("cifar10-ci: 2 of 2 slices to compute (2 of them with their rows committed but not their state);"
                     f" the committed results will be compared when done; restore the committed study with `{restore}`"
                     " (make restore STUDY=outputs/cifar10-ci)")
    # the committed rows of a slice without its state are to do: the first line counts 1 of 6, not 6 + 1
    first = progress_lines(caplog)[0]
    assert (first["method"], first["cycle"], first["done"], first["total"]) == ("l2r", "0", "1", "6")

    caplog.clear()
    assert run(out, tiny_data_root) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("cifar10-ci: 2 of 2 slices to compute (1 of them with their rows committed but not"
                                 " their state)")
    lines = progress_lines(caplog)  # l2r resumes at cycle 1: its cycle 0 is not lost, nor computed again
    assert [(line["method"], line["cycle"], line["done"]) for line in lines] == \
        [("l2r", "1", "2"), ("l2r", "2", "3"), ("random", "0", "4"), ("random", "1", "5"), ("random", "2", "6")]
    # the per-method comparison, then the verdict as the last line
    n_rows = (~committed.metric.str.startswith("time_")).sum()
    assert printed[-1] == (f"reproduction: identical to the last digit: all {n_rows} comparable rows (timings aside)"
                           " equal the committed ones")
    table = "\n".join(printed[printed.index(next(p for p in printed if p.startswith("reproduction, per method"))):-1])
    assert re.search(r"l2r\s+accuracy\s+\S+\s+\S+\s+0\s+\S+\s+\S+\s+0", table) and "random" in table, table

    # the committed study comes back with the command the start line gave
    subprocess.run(restore, shell=True, cwd=clone, check=True, capture_output=True)
    assert git(clone, "status", "--porcelain", "--ignored") == "" and not list(out.rglob("state.pt"))


def test_a_difference_is_measured_per_method_and_explained_by_the_fingerprints(origin, tmp_path, monkeypatch):
    """compare() against a committed study whose rows and fingerprint were made to differ."""
    out = origin / "outputs" / "cifar10-ci"
    found = committed_study(out)
    assert found.pathspec == "outputs/cifar10-ci" and committed_study(tmp_path) is None
    same = compare(found)
    assert same.headline.startswith("identical to the last digit") and same.why == ""
    assert (same.methods[["final_diff", "aubc_diff"]] == 0).all().all()

    results = found.results.copy()
    last = (results.method == "l2r") & (results.metric == "accuracy") & (results.cycle == results.cycle.max())
    results.loc[last, "value"] += 2.5
    runs = [{**run, "fingerprint": {**run["fingerprint"], "processor": "AMD EPYC 7B13"}} for run in found.runs]
    other = compare(Committed(out, found.pathspec, results, runs))
    assert other.headline.startswith("differs: 1 of ") and "by 2.5 (accuracy of l2r seed 0 cycle 2" in other.headline
    assert other.lines()[-1] == f"reproduction: {other.headline}; {other.why}"  # the verdict and why, last
    assert other.why.startswith("why: expected, the fingerprint differs in processor (this run")
    assert "the committed rows' 'AMD EPYC 7B13'" in other.why
    row = other.methods.set_index(["method", "metric"]).loc[("l2r", "accuracy")]
    assert row.final_diff == pytest.approx(-2.5) and row.aubc_diff < 0
    assert (other.methods.set_index(["method", "metric"]).loc[("random", "accuracy"), ["final_diff", "aubc_diff"]]
            == 0).all()

    mine = [{**run, "pid": -1} for run in found.runs]  # this run's records: another pid, the same fingerprint
    monkeypatch.setattr("l2ral_lib.reproduction.computing_runs", lambda dirs: mine)
    unexplained = compare(Committed(out, found.pathspec, results, found.runs))
    assert unexplained.why.startswith("why: not the fingerprint (it matches the committed rows')")
    # committed before fingerprints (the shipped studies): what is not recorded is said, not guessed
    legacy = [{key: value for key, value in run.items() if key != "fingerprint"} for run in found.runs]
    legacy = [{**run, "hardware": {**run["hardware"], "processor": ""}} for run in legacy]
    unknown = compare(Committed(out, found.pathspec, results, legacy))
    assert unknown.why == "why: cannot be told; the committed rows do not record their processor, isa, torch_build," \
                          " so a different machine may explain it"


def test_outside_git_a_run_says_nothing_of_a_reproduction(tmp_path, tiny_data_root, capsys):
    assert run(tmp_path / "study", tiny_data_root) == 0
    printed = capsys.readouterr().out
    assert "to compute" not in printed and "reproduction:" not in printed
    provenance = json.loads((tmp_path / "study" / "provenance.json").read_text())
    (fingerprint,) = provenance["fingerprints"]
    assert set(fingerprint) == {"processor", "isa", "torch", "torch_build", "device", "gpu", "precision", "threads"}
    assert fingerprint["processor"]  # platform.processor() left it empty on Linux


def test_a_reproduction_runs_on_the_committed_thread_count_and_ends_with_the_verdict(
        origin, tmp_path, tiny_data_root, monkeypatch, capsys):
    """No OMP_NUM_THREADS: the committed rows' thread count, said in a line, not this machine's default; the
    caller's count and environment back after; the verdict the last line printed."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    out = clone / "outputs" / "cifar10-ci"
    (committed,) = recorded_cpu_threads(committed_study(out).runs)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    default = committed + 1  # this machine's default differs from the committed count
    before = torch.get_num_threads()
    torch.set_num_threads(default)
    try:
        assert run(out, tiny_data_root) == 0
        assert torch.get_num_threads() == default and "OMP_NUM_THREADS" not in os.environ
    finally:
        torch.set_num_threads(before)
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == (f"threads: {committed}, as the committed rows were computed (OMP_NUM_THREADS=<n> sets"
                          f" another; this machine's default is {default})")
    assert printed[-1].startswith("reproduction: identical to the last digit: all ")
    mine = [r for r in computing_runs(StudyFolder(out).slices()) if r["pid"] == os.getpid()]
    assert len(mine) == 2 and recorded_cpu_threads(mine) == {committed}  # this run's slices, on the committed count
    assert verdict_lines(out)[-1] == printed[-1]  # `compare DIR` says the same afterwards
    assert main(["compare", str(out)]) == 0 and capsys.readouterr().out.splitlines()[-1] == printed[-1]


def test_the_thread_count_is_the_committed_one_unless_told_otherwise(origin):
    found = committed_study(origin / "outputs" / "cifar10-ci")
    (committed,) = recorded_cpu_threads(found.runs)
    count, line = threads_line(found, "cpu", environ={})
    assert count == committed and line.startswith(f"threads: {committed}, as the committed rows were computed")
    assert threads_line(found, "cpu", environ={"OMP_NUM_THREADS": "3"}) == (None, "")  # the user's choice stands
    mixed = [*found.runs, {**found.runs[0], "hardware": {**found.runs[0]["hardware"], "torch_threads": committed + 1}}]
    count, line = threads_line(Committed(found.out_dir, found.pathspec, found.results, mixed), "cpu", environ={})
    assert count is None and f"computed on {committed}, {committed + 1} threads, so no one count repeats them all" in line
    assert verdict_lines(origin / "outputs") == [f"{origin / 'outputs'}: no study committed to git there, so no"
                                                 " reproduction to compare"]


@pytest.mark.slow
def test_make_ends_a_reproduction_with_the_verdict(tmp_path, tiny_data_root):
    """`make <experiment>` in a clone whose outputs/ hold the study committed: no OMP_NUM_THREADS, so the
    committed thread count; the notebook runs it, and the verdict is the last line make prints."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "l2ral_lib", project / "l2ral_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "pyproject.toml", ".gitignore", "notebooks/cifar10.ipynb", "params/cifar10-paper.yaml"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    (project / "params" / "cifar10-ci.yaml").write_text((ROOT / "params" / "cifar10-ci.yaml").read_text()
                                                       + "strategies: [random, l2r]\n")
    env = {**os.environ, "L2RAL_DATA": str(tiny_data_root)}
    done = subprocess.run([sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-ci.yaml", "--device", "cpu",
                           "--no-progress"], cwd=project, env={**env, "PYTHONPATH": str(project)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "the project with its study")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    (committed,) = recorded_cpu_threads(committed_study(clone / "outputs" / "cifar10-ci").runs)
    venv = tmp_path / "venv"  # `make setup` done: its stamp newer than the clone's pyproject.toml
    venv.mkdir()
    (venv / ".installed").touch()
    env = {key: value for key, value in env.items() if key != "OMP_NUM_THREADS"}
    made = subprocess.run(["make", "--no-print-directory", "cifar10", "PROFILE=ci", "DEVICE=cpu", f"VENV={venv}",
                           f"PY={sys.executable}"], cwd=clone, env={**env, "PYTHONPATH": str(clone)},
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stderr[-3000:]
    assert f"threads: {committed}, as the committed rows were computed" in made.stdout + made.stderr
    last = made.stdout.splitlines()[-1]
    assert last.startswith("reproduction: identical to the last digit: all "), made.stdout[-3000:]


def rows(first: float) -> pd.DataFrame:
    return pd.DataFrame([{"dataset": "d", "method": "random", "seed": 4, "cycle": cycle, "n_labeled": 20 * (cycle + 1),
                          "metric": "spearman_entropy", "value": value} for cycle, value in enumerate([first, 0.5])],
                        columns=RESULT_COLUMNS)


def test_a_nan_both_hold_is_identical_and_a_nan_against_a_value_differs(tmp_path):
    """shanghaitech-cpu's seed 4 has a NaN Spearman at cycle 0 in every method: its render compared it with
    itself as a difference, and the comparison then failed on a gap that was NaN."""
    committed = Committed(tmp_path, "outputs/study", rows(float("nan")))
    assert compare(committed, rows(float("nan"))).headline == (
        "identical to the last digit: all 2 comparable rows (timings aside) equal the committed ones")
    assert compare(committed, rows(0.25)).headline == (
        "differs: 1 of 2 comparable rows, the largest by inf (spearman_entropy of random seed 4 cycle 0:"
        " committed nan, now 0.25)")
