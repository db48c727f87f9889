"""The benchmark script runs end to end (tiny sizes) and reports ratios against its own baseline."""
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT


@pytest.mark.slow
def test_bench_runs_tiny_and_writes_tables(tmp_path):
    smoke = tmp_path / "toy-smoke"
    smoke.mkdir()
    pd.DataFrame([dict(dataset="d", method="random", seed=0, cycle=c, n_labeled=10, metric="time_train_s", value=2.0)
                  for c in range(3)]).to_csv(smoke / "results.csv", index=False)
    done = subprocess.run([sys.executable, "benchmarks/bench.py", "--device", "cpu", "--width", "4", "--steps", "2",
                           "--precision-models", "cifar10-smoke", "--precision-steps", "1", "--query-n", "256", "--picks", "16", "--vaal-width", "8",
                           "--smoke-dirs", str(tmp_path / "*-smoke"), "--out", str(tmp_path / "bench")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    train = pd.read_csv(tmp_path / "bench" / "train_step.csv")
    bare = train[train.loop.str.startswith("bare")]
    assert len(train) == 3 and bare.ratio_to_bare.tolist() == [1.0] and (train.images_per_s > 0).all()
    precision = pd.read_csv(tmp_path / "bench" / "precision.csv")
    assert precision.setting.tolist() == ["float32", "float32", "bf16", "bf16", "bf16 + channels_last",
                                          "bf16 + channels_last"]
    assert precision[precision.setting == "float32"].speedup_vs_float32.tolist() == [1.0, 1.0]
    query = pd.read_csv(tmp_path / "bench" / "query.csv")
    assert query.case.str.contains("16 picks").sum() == 12 and (query.seconds >= 0).all()
    assert pd.read_csv(tmp_path / "bench" / "sorter.csv").sorter_share.item() > 0
    assert pd.read_csv(tmp_path / "bench" / "phases_toy-smoke.csv").train.item() == 6.0
    assert "== train_step" in done.stdout and "ratio_to_bare" in done.stdout
