"""Shared fixtures: a tiny generated CIFAR-like ImageFolder tree, the ci profile pointing at it, and a
Slurm cluster to submit to."""
import os
import shutil
import subprocess
from pathlib import Path

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    # `make test` runs a pytest-xdist worker per core: each worker's torch gets its share of the cores, set
    # before torch starts its thread pool and inherited by the studies the tests start as subprocesses
    # (more threads than cores, and torch's spinning workers slow every process several times over)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0))
                                                     // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import pytest

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.data.generated import make_image_folder


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    make_image_folder(root / "cifar10")
    return root


@pytest.fixture
def ci_params(tiny_data_root):
    def make(**overrides):
        return load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root), **overrides})
    return make


@pytest.fixture(scope="session")
def slurm_cluster():
    """A Slurm controller that answers (`.ci/slurm-cluster start`, SLURM_CONF exported). Without one the
    tests that need it skip -- or fail where L2RAL_REQUIRE_SLURM=1 (CI), so that a cluster that did not
    come up cannot pass for a green run."""
    if shutil.which("sbatch") is None:
        reason = "Slurm is not installed (no sbatch on PATH)"
    else:
        answer = subprocess.run(["sinfo", "--noheader", "--format", "%t"], capture_output=True, text=True, timeout=60)
        states = answer.stdout.split()
        reason = (None if answer.returncode == 0 and {"idle", "mix", "alloc"} & set(states) else
                  f"no Slurm node is up (sinfo: {(answer.stderr or answer.stdout).strip()[:200]})")
    if reason:
        if os.environ.get("L2RAL_REQUIRE_SLURM") == "1":
            pytest.fail(f"L2RAL_REQUIRE_SLURM=1 but {reason}; start one: eval \"$(.ci/slurm-cluster start)\"")
        pytest.skip(f"{reason}; start one: eval \"$(.ci/slurm-cluster start)\"")



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item):
    """Mark the reports of tests with the `slurm` marker (a keyword match would also take a parameter id)."""
    outcome = yield
    if item.get_closest_marker("slurm"):
        outcome.get_result().user_properties.append(("on_slurm", True))


def pytest_terminal_summary(terminalreporter):
    """One line per test that ran on the Slurm cluster, with its outcome and duration: the evidence in a
    CI log (pytest -q prints dots only) that the `--executor slurm` tests ran and did not skip."""
    reports = [report for outcome in ("passed", "failed", "skipped", "error")
               for report in terminalreporter.stats.get(outcome, [])
               if ("on_slurm", True) in getattr(report, "user_properties", ())
               and (report.when == "call" or report.outcome != "passed")]
    if reports:
        terminalreporter.section("tests on the Slurm cluster")
        for report in reports:
            terminalreporter.write_line(f"{report.outcome:8} {report.duration:6.1f} s  {report.nodeid}")
