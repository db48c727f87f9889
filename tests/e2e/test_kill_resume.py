"""Kills survived: a run killed inside a write or at random moments, then resumed, equals an uninterrupted one
(NaN losses: test_training.py)."""
import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from helpers import ROOT

METHODS = "strategies=[random, coreset, l2r]"


def measured(table):
    return table[~table.metric.str.startswith("time_")].reset_index(drop=True)


def start(out, data_root):
    command = [sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out),
               "--no-progress", "--set", f"data_root={data_root}", "--set", METHODS]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


# Runs the CLI with files.atomic_write_bytes wrapped: at the KILL_NTH write of a file named KILL_FILE it
# leaves half of the payload in the temporary file and SIGKILLs its own process -- a kill inside a write.
TORN_WRITE = """
import os, signal, sys
from pathlib import Path

from l2ral_lib import files
from l2ral_lib.__main__ import main
original, seen = files.atomic_write_bytes, {"n": 0}
def torn(path, payload):
    path = Path(path)
    if path.name == os.environ["KILL_FILE"]:
        seen["n"] += 1
        if seen["n"] == int(os.environ["KILL_NTH"]):
            with open(path.with_name(f".{path.name}.tmp{os.getpid()}"), "wb") as handle:
                handle.write(payload[: len(payload) // 2])
            print(f"killed writing {path}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    original(path, payload)
files.atomic_write_bytes = torn
sys.exit(main(sys.argv[1:]))
"""


def cli(out, data_root, methods, *prefix, env=None):
    command = [sys.executable, *prefix, "run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out),
               "--no-progress", "--set", f"data_root={data_root}", "--set", methods]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def l2r_reference(tmp_path_factory, tiny_data_root):
    out = tmp_path_factory.mktemp("reference")
    done = cli(out, tiny_data_root, "strategies=[l2r]", "-m", "l2ral_lib")
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out / "results.csv")


@pytest.mark.slow
@pytest.mark.parametrize("file, nth", [("params.json", 1), ("provenance.json", 1), ("rows.csv", 1), ("state.pt", 1),
                                       ("rows.csv", 3), ("selected.json", 2), ("state.pt", 3), ("results.csv", 1)])
def test_killed_inside_a_write_then_rerun_equals_uninterrupted(tmp_path, tiny_data_root, l2r_reference, file, nth):
    out = tmp_path / "study"
    env = {**os.environ, "KILL_FILE": file, "KILL_NTH": str(nth)}
    killed = cli(out, tiny_data_root, "strategies=[l2r]", "-c", TORN_WRITE, env=env)
    assert killed.returncode == -signal.SIGKILL and f"killed writing {out}" in killed.stderr, killed.stderr
    assert list(out.rglob(f".{file}.tmp*")), "the torn temporary file should be left behind"
    rerun = cli(out, tiny_data_root, "strategies=[l2r]", "-m", "l2ral_lib")
    assert rerun.returncode == 0, rerun.stderr
    got = pd.read_csv(out / "results.csv")
    assert not got.duplicated(["method", "seed", "cycle", "metric"]).any()
    pd.testing.assert_frame_equal(measured(got), measured(l2r_reference))


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed_equals_uninterrupted(tmp_path, tiny_data_root):
    reference = start(tmp_path / "reference", tiny_data_root)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()
    rng = random.Random(0)
    out, kills = tmp_path / "killed", 0
    for _ in range(8):  # each run resumes, gets a little further, and is killed at a random moment
        process = start(out, tiny_data_root)
        time.sleep(rng.uniform(1.5, 4.0))
        if process.poll() is not None:
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
    final = start(out, tiny_data_root)
    assert final.wait(timeout=600) == 0, final.stderr.read()
    assert kills >= 2
    expected = pd.read_csv(tmp_path / "reference" / "results.csv")
    got = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(measured(got), measured(expected))
