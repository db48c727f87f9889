"""The command line runs a study without Jupyter; --jobs splits slices over processes and merges."""
import subprocess
import sys

import pandas as pd

from conftest import ROOT


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "l2ral_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, **kwargs)


def test_jobs_mode_equals_single_process(tmp_path, tiny_data_root):
    common = ["run", "params/cifar10-ci.yaml", "--device", "cpu", "--no-progress", "--set", f"data_root={tiny_data_root}",
              "--set", "strategies=[random, entropy, coreset]"]
    single = cli(*common, "--out", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr
    jobs = cli(*common, "--out", str(tmp_path / "jobs"), "--jobs", "3")
    assert jobs.returncode == 0, jobs.stderr
    # one progress line per (method, seed, cycle) on stderr, also from the workers of --jobs
    for run in (single, jobs):
        assert sum(" cycles done, elapsed " in line for line in run.stderr.splitlines()) == 3 * 3
    measured = lambda t: t[~t.metric.str.startswith("time_")].reset_index(drop=True)  # noqa: E731
    a, b = (pd.read_csv(tmp_path / name / "results.csv") for name in ("single", "jobs"))
    pd.testing.assert_frame_equal(measured(a), measured(b))
    assert sorted(p.name for p in (tmp_path / "jobs" / "slices").iterdir()) == \
        ["coreset-seed0", "entropy-seed0", "random-seed0"]


def test_invalid_params_exit_2_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {ROOT / 'params' / 'cifar10-ci.yaml'}\nbatch_sise: 4\n")
    result = cli("run", str(bad), "--device", "cpu")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params: batch_sise: unknown key (did you mean 'batch_size'?);" \
                                    " see l2ral_lib/config.py for the known keys"


def test_only_must_name_a_method_of_the_study(tmp_path):
    result = cli("run", "params/cifar10-ci.yaml", "--only", "vaal2:0", "--out", str(tmp_path))
    assert result.returncode == 2 and "params: --only:" in result.stderr
