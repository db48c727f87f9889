"""Runs sharing a study: a slice is computed only by the run holding its lock; a second run takes
the slices nobody holds, waits for the held ones saying who holds them, and takes over a killed holder's
slice; every run that computed a cycle is in the slice's provenance."""
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from l2ral_lib import loop
from l2ral_lib.loop import longest_first, run_study
from l2ral_lib.outputs import SliceFolder
from l2ral_lib.study_folder import MACHINE_METRICS
from helpers import ROOT

METHODS = "strategies=[random, entropy, vaal, l2r]"
PROGRESS = re.compile(r": (?P<method>\S+) seed (?P<seed>\d+) cycle (?P<cycle>\d+) \[")


def measured(table):
    return table[~table.metric.str.startswith(MACHINE_METRICS)].reset_index(drop=True)


def start(out, data_root):
    command = [sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out),
               "--no-progress", "--set", f"data_root={data_root}", "--set", METHODS]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_longest_slices_first_in_one_order():
    slices = [("random", 0), ("ll4al", 0), ("l2r-mse", 0), ("vaal", 0), ("entropy", 0), ("l2r", 1), ("l2rx", 0)]
    assert longest_first(slices) == [("l2r-mse", 0), ("l2r", 1), ("vaal", 0), ("ll4al", 0), ("random", 0),
                                     ("entropy", 0), ("l2rx", 0)]  # a prefix alone is no family


def test_two_concurrent_runs_share_the_slices_and_equal_one_run(tmp_path, tiny_data_root):
    reference = start(tmp_path / "reference", tiny_data_root)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()
    out = tmp_path / "shared"
    runs = [start(out, tiny_data_root) for _ in range(2)]
    errors = [run.communicate(timeout=600)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    expected = measured(pd.read_csv(tmp_path / "reference" / "results.csv"))
    pd.testing.assert_frame_equal(measured(pd.read_csv(out / "results.csv")), expected)
    # each cycle computed once, by the run that logged it, and recorded as that run's in the slice's provenance
    logged = {run.pid: sorted((m["method"], int(m["seed"]), int(m["cycle"])) for m in PROGRESS.finditer(err))
              for run, err in zip(runs, errors)}
    recorded = {run.pid: [] for run in runs}
    for record in (out / "slices").glob("*/provenance.json"):
        method, _, seed = record.parent.name.rpartition("-seed")
        for entry in json.loads(record.read_text())["runs"]:
            recorded[entry["pid"]] += [(method, int(seed), c) for c in range(entry["first_cycle"], entry["cycles_done"])]
    assert {pid: sorted(cycles) for pid, cycles in recorded.items()} == logged
    every = sorted(c for cycles in logged.values() for c in cycles)
    n_cycles = expected.cycle.nunique()
    assert every == sorted((m, 0, c) for m in ("random", "entropy", "vaal", "l2r") for c in range(n_cycles))
    assert all(logged.values()), "both runs should have computed slices: the second takes those nobody holds"
    study = json.loads((out / "provenance.json").read_text())
    reference_study = json.loads((tmp_path / "reference" / "provenance.json").read_text())
    assert len(study["fingerprints"]) == 1 and study["fingerprints"] == reference_study["fingerprints"]


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"pid {os.getpid()} on elsewhere since 12:00:00".encode())
print("held", flush=True)
time.sleep(600)
"""


def test_a_held_slice_is_waited_for_with_its_holder_named_and_a_killed_holders_slice_is_taken_over(
        ci_params, tmp_path, caplog):
    """A process holds random's lock and is killed while the run waits: the run names it in one line,
    then computes the slice itself (the OS released the dead holder's lock)."""
    params = ci_params(strategies=["random"])
    folder = SliceFolder(tmp_path / "slices" / "random-seed0")
    folder.path.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder.lock_file)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    killer = subprocess.Popen([sys.executable, "-c", f"import os, signal, time; time.sleep(4); os.kill({holder.pid},"
                                                     f" signal.SIGKILL)"])
    caplog.set_level(logging.INFO, logger="l2ral_lib")
    started = time.monotonic()
    try:
        table = run_study(params, "cpu", tmp_path, progress=False)
    finally:
        killer.wait()
        holder.wait()
    assert holder.returncode == -signal.SIGKILL and time.monotonic() - started >= 4
    waiting = [r.getMessage() for r in caplog.records if "held by another run" in r.getMessage()]
    assert waiting == [f"cifar10-ci: 1 slice(s) held by another run: random-seed0 (pid {holder.pid} on elsewhere since"
                       " 12:00:00); waiting for them (rather than stopping) so that this command ends with the whole"
                       " study merged, as asked; Ctrl-C stops waiting, the other runs go on"]
    assert sorted(table[table.metric == "accuracy"].cycle) == list(range(params.n_cycles))
    (entry,) = json.loads(folder.provenance_file.read_text())["runs"]
    assert entry["pid"] == os.getpid() and (entry["first_cycle"], entry["cycles_done"]) == (0, params.n_cycles)


def test_provenance_keeps_every_runs_record(ci_params, tmp_path, monkeypatch):
    """Each write reads the file again under the lock: a record another run added is kept (the read-modify-
    write race that lost one of two runs' records)."""
    params = ci_params(strategies=["random"])
    calls, original = {"n": 0}, loop.Study.query

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.Study, "query", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(params, "cpu", tmp_path, progress=False)
    monkeypatch.setattr(loop.Study, "query", original)
    record = tmp_path / "slices" / "random-seed0" / "provenance.json"
    first = json.loads(record.read_text())["runs"]
    original_done = loop.SliceProvenance.cycle_done

    def another_run_writes_first(self, cycles_done):  # a record appears after this run read the file
        runs = json.loads(record.read_text())["runs"]
        if not any(run.get("run") == "other" for run in runs):
            record.write_text(json.dumps({"runs": runs + [{**first[0], "run": "other"}]}))
        original_done(self, cycles_done)

    monkeypatch.setattr(loop.SliceProvenance, "cycle_done", another_run_writes_first)
    run_study(params, "cpu", tmp_path, progress=False)
    runs = json.loads(record.read_text())["runs"]
    assert [run.get("run") == "other" for run in runs] == [False, True, False]
    assert [(run["first_cycle"], run["cycles_done"]) for run in runs] == [(0, 1), (0, 1), (1, params.n_cycles)]
