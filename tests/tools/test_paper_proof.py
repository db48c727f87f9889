"""The GPU proof run's script, dry-run on the CPU with the ci profile: detached start, resume, status."""
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from helpers import ROOT


def proof(*args):
    return subprocess.run([sys.executable, "tools/paper_proof.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def wait_for(out, timeout=600):
    pid = int((out / "paper-proof.pid").read_text())
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.5)
    raise TimeoutError(f"proof run {pid} still going after {timeout} s")


def test_proof_run_detaches_resumes_and_reports(tmp_path, tiny_data_root):
    out = tmp_path / "proof"
    common = ["--params", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out),
              "--set", f"data_root={tiny_data_root}", "--set", "strategies=[random, l2r]"]
    started = proof("start", *common)
    assert started.returncode == 0 and "started pid" in started.stdout, started.stderr
    # a second start does not run it twice. The ci study can finish before a second interpreter starts (on a
    # loaded machine it did): the first run is held stopped meanwhile, so that it is certainly still going
    pid = int(re.search(r"started pid (\d+)", started.stdout).group(1))
    os.kill(pid, signal.SIGSTOP)
    try:
        assert "still going" in proof("start", *common).stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(out)
    report = proof("status", "--out", str(out))
    assert report.returncode == 0 and "not running; 6/6 cycles finished" in report.stdout, report.stdout
    figures = json.loads((out / "throughput.json").read_text())
    rows = pd.read_csv(out / "results.csv")
    train = rows[rows.metric == "time_train_s"]
    assert figures["images_trained"] == (train.n_labeled * 2).sum()  # ci profile: 2 epochs per cycle
    assert figures["images_per_s_per_process"] == round(figures["images_trained"] / train.value.sum(), 1)
    assert figures["hours_left"] == 0 and figures["slices"] == {"random-seed0": 3, "l2r-seed0": 3}
    assert json.loads((out / "params.json").read_text())["seeds"] == [0]
    # started again after it finished: resumes, i.e. finds nothing left to train
    again = proof("start", *common)
    assert again.returncode == 0
    wait_for(out)
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), rows)  # nothing retrained, nothing doubled
    assert "6/6 cycles finished" in proof("status", "--out", str(out)).stdout


def test_proof_run_refuses_bad_params_at_once(tmp_path):
    result = proof("start", "--params", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(tmp_path / "p"),
                   "--set", "epochs=0")
    assert result.returncode == 2 and result.stderr.strip() == "error: params: epochs: must be > 0, got 0"
    assert not (tmp_path / "p").exists()


def test_time_left_is_modelled_per_method():
    """VAAL's fit is fixed per cycle and an L2R step costs several plain ones: the time left follows each
    method's measured cycles, not images alone (the old estimate made every method cost random's per image)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import paper_proof  # noqa: PLC0415
    from l2ral_lib.checks import load_params  # noqa: PLC0415

    params = load_params(ROOT / "params" / "cifar10-paper.yaml", {"seeds": [0], "strategies": ["random", "vaal", "l2r"]})
    rows = []
    for method, per_image, fixed in (("random", 1e-4, 0.5), ("vaal", 1e-4, 600.0), ("l2r", 6e-4, 0.5)):
        for cycle in (0, 1):
            n = params.labeled_at(cycle)
            rows += [dict(method=method, seed=0, cycle=cycle, n_labeled=n, metric="time_train_s",
                          value=per_image * n * params.epochs),
                     dict(method=method, seed=0, cycle=cycle, n_labeled=n, metric="time_query_s", value=fixed)]
    rows = pd.DataFrame(rows)
    done = {(m, 0, c) for m in ("random", "vaal", "l2r") for c in (0, 1)}
    left = paper_proof.seconds_left(rows, params, done)
    images_left = sum(params.labeled_at(c) * params.epochs for c in range(2, params.n_cycles))
    assert left["random"] == pytest.approx(1e-4 * images_left + 0.5 * (params.n_cycles - 3))
    assert left["vaal"] == pytest.approx(1e-4 * images_left + 600.0 * (params.n_cycles - 3))
    assert left["l2r"] == pytest.approx(6 * 1e-4 * images_left + 0.5 * (params.n_cycles - 3))
    # a seed plan: vaal planned on seed 0 alone, the others on seeds 0 and 1, of which seed 1 not started
    planned = dataclasses.replace(params, seeds=[0, 1], strategy_seeds={"vaal": 1})
    left = paper_proof.seconds_left(rows, planned, done)
    whole = sum(params.labeled_at(c) * params.epochs for c in range(params.n_cycles))
    assert left["vaal"] == pytest.approx(1e-4 * images_left + 600.0 * (params.n_cycles - 3))
    assert left["random"] == pytest.approx(1e-4 * (images_left + whole) + 0.5 * (params.n_cycles - 3 + params.n_cycles - 1))
