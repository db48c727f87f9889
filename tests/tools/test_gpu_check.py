"""`make gpu-check`'s CPU dry run (tiny sizes, seconds): the file's structure, every number finite; and the
projection `check` prints from such a file."""
import dataclasses
import json
import math
import subprocess
import sys

import pytest

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.projection import describe_projection, newest_figures, project


def numbers(value, path="$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


@pytest.mark.slow
def test_dry_run_writes_one_complete_file(tmp_path):
    # this checkout on the path, as `make gpu-check` puts it: the device's python3 has no install of it
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "tools/gpu_check.py", "--dry-run", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".md"), files
    report = json.loads((tmp_path / files[0]).read_text())
    assert report["dry_run"] and report["finished"] and report["device_name"] == "cpu"
    assert set(report["gpu_tests"]) >= {"passed", "failed", "skipped", "failures"} and report["gpu_tests"]["failed"] == 0
    assert report["gpu_tests"]["skipped"] >= 4  # the GPU tests found (and skipped on a CPU), not a missing file
    assert report["captured_step_ms"] == {} and report["projected_hours"]["cifar10-paper"]["per_seed_captured"] is None
    paper = load_params(ROOT / "params" / "cifar10-paper.yaml")
    assert set(paper.strategies) <= set(report["step_ms"]) and all(v > 0 for v in report["step_ms"].values())
    assert {"sorter_fwd_bwd_ms", "no_cudnn_fwd_bwd_ms", "autograd_fwd_bwd_ms"} <= set(report["sorter"])
    assert report["vaal_ms_per_iteration"] > 0
    assert [w["processes"] for w in report["workers"]] == [1, 2] and all(w["images_per_s"] > 0 for w in report["workers"])
    assert all(w["mfu"] is None for w in report["workers"])  # no bf16 peak known for a CPU
    assert report["projected_hours"]["cifar10-paper"]["per_seed"] > 0
    assert report["projected_hours"]["mpii-paper"]["per_seed"] is None  # another model: not projected
    bad = [(path, value) for path, value in numbers(report) if not math.isfinite(value)]
    assert not bad, bad
    markdown = (tmp_path / files[1]).read_text()
    assert "pytest -m gpu:" in markdown and "| random |" in markdown and "| cifar10-paper |" in markdown
    assert "captured steps not measured in a dry run" in markdown
    assert newest_figures(tmp_path, "cpu") is None  # a dry run never projects a real study


def test_check_projects_each_method_and_shows_vaals_official_cost(tmp_path):
    params = load_params(ROOT / "params" / "cifar10-paper.yaml")
    figures = {"device_name": "NVIDIA H200", "finished": "20260101-000000", "width": 64, "batch": 64,
               "vaal_ms_per_iteration": 10.0, "vaal_width": 128,
               "step_ms": {"random": 10.0, "entropy": 10.0, "coreset": 10.0, "vaal": 10.0, "ll4al": 12.0, "l2r": 30.0}}
    (tmp_path / "old.json").write_text(json.dumps({**figures, "finished": "20250101-000000", "step_ms": {}}))
    (tmp_path / "new.json").write_text(json.dumps(figures))
    (tmp_path / "dry.json").write_text(json.dumps({**figures, "finished": "20270101-000000", "dry_run": True}))
    path, found = newest_figures(tmp_path, "NVIDIA H200")
    assert path.name == "new.json"
    projected = project(params, found, 50000)
    images = sum(params.labeled_at(c) for c in range(params.n_cycles)) * params.epochs
    assert projected["random"]["seconds"] == pytest.approx(images / 64 * 0.010)
    assert projected["l2r"]["seconds"] == pytest.approx(3 * projected["random"]["seconds"])
    assert projected["vaal"]["vaal_fit_s"] == pytest.approx((params.n_cycles - 1) * 39062 * 0.010)
    lines = describe_projection(params, path, found, "NVIDIA H200", 50000)
    assert "39,062 VAE iterations per cycle" in lines[0] and any(line.strip().startswith("l2r:") for line in lines)
    captured_l2r_only = project(params, {**found, "step_ms": {"l2r": 5.0}}, 50000)
    assert captured_l2r_only["l2r"]["seconds"] == pytest.approx(images / 64 * 0.005)
    assert captured_l2r_only["random"]["seconds"] is None and "timed" in captured_l2r_only["random"]["reason"]
    none = describe_projection(params, None, None, "cpu", 50000)
    assert "39,062" in none[0] and "no gpu-check figures" in none[1]
    # a seed plan: the study's hours count each method's own seeds (vaal on 2 of 5, the rest on all 5)
    planned = dataclasses.replace(params, strategy_seeds={"vaal": 2})
    seconds = {m: p["seconds"] for m, p in project(planned, found, 50000).items()}
    study = (5 * sum(seconds.values()) - 3 * seconds["vaal"]) / 3600
    total = describe_projection(planned, path, found, "NVIDIA H200", 50000)[-1]
    assert total.endswith(f"the study's 27 slices: {study:.2f} h (JOBS=1)"), total


def test_gpu_check_on_a_machine_with_its_own_python_needs_no_venv():
    """The lent GPU machine has no package registry: `make gpu-check PY=python3` must not build a .venv (pip
    would fail there), and it puts the carried wheels' folder and this checkout (not installed there) on the path
    of the check and its subprocesses."""
    done = subprocess.run(["make", "-n", "gpu-check", "PY=python3", "GPU_CHECK_OUT=/tmp/x"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "venv" not in done.stdout and "pip install -q torch" not in done.stdout
    assert f'PYTHONPATH="{ROOT / ".whl" / "site"}:{ROOT}' in done.stdout
    assert "python3 tools/gpu_check.py --device cuda --out /tmp/x" in done.stdout
    default = subprocess.run(["make", "-n", "gpu-check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "tools/gpu_check.py --device cuda --out outputs/gpu-check" in default.stdout


def test_a_window_brings_its_study_back_without_the_slices_state(tmp_path):
    """What --then-study returns: one archive of the study folder, every file but the slices' state.pt and locks."""
    import tarfile

    sys.path.insert(0, str(ROOT / "tools"))
    import gpu_check  # noqa: PLC0415

    study = tmp_path / "cifar10-paper"
    kept = ["results.csv", "provenance.json", "slices/l2r-seed0/rows.csv", "slices/l2r-seed0/provenance.json"]
    for name in kept + ["slices/l2r-seed0/state.pt", "slices/l2r-seed0/.lock"]:
        (study / name).parent.mkdir(parents=True, exist_ok=True)
        (study / name).write_text(name)
    gpu_check.pack_study(study, tmp_path / "back.tar")
    with tarfile.open(tmp_path / "back.tar") as tar:
        assert sorted(tar.getnames()) == sorted(f"cifar10-paper/{name}" for name in kept)
        assert tar.extractfile("cifar10-paper/slices/l2r-seed0/rows.csv").read() == b"slices/l2r-seed0/rows.csv"
