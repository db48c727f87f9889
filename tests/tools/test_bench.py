"""The benchmark script runs end to end (tiny sizes) and reports ratios against its own baseline."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from helpers import ROOT


@pytest.mark.slow
def test_bench_runs_tiny_and_writes_tables(tmp_path):
    smoke = tmp_path / "toy-smoke"
    smoke.mkdir()
    pd.DataFrame([dict(dataset="d", method="random", seed=0, cycle=c, n_labeled=10, metric="time_train_s", value=2.0)
                  for c in range(3)]).to_csv(smoke / "results.csv", index=False)
    done = subprocess.run([sys.executable, "benchmarks/bench.py", "--device", "cpu", "--width", "4", "--steps", "2",
                           "--precision-models", "cifar10-smoke", "--precision-steps", "1", "--query-n", "256", "--picks", "16", "--vaal-width", "8", "--vae-iterations", "1",
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
    sorter = pd.read_csv(tmp_path / "bench" / "sorter.csv")
    assert sorter.sorter_share.item() > 0 and sorter.autograd_fwd_bwd_ms.item() > 0
    vae = pd.read_csv(tmp_path / "bench" / "vae.csv")
    assert vae.setting.tolist() == ["float32", "bf16", "bf16 + channels_last"] and vae.speedup_vs_float32[0] == 1.0
    assert pd.read_csv(tmp_path / "bench" / "phases_toy-smoke.csv").train.item() == 6.0
    assert "== train_step" in done.stdout and "ratio_to_bare" in done.stdout


def write_precision_study(folder, params, shift, seconds):
    """results.csv of two methods x 3 seeds x 3 cycles (value = 10 cycle + seed + shift) and params.json."""
    rows = [dict(dataset="cifar10", method=method, seed=seed, cycle=cycle, n_labeled=10 * (cycle + 1), metric=metric,
                 value=value)
            for method in ("random", "l2r") for seed in range(3) for cycle in range(3)
            for metric, value in (("accuracy", 10 * cycle + seed + shift * (seed + 1) * (method == "l2r")),
                                  ("time_train_s", seconds))]
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "params.json").write_text(json.dumps(params.to_dict()))


@pytest.mark.parametrize("other, error", [({}, None), ({"epochs": 3}, "epochs")])
def test_precision_comparison_pairs_seeds_and_refuses_other_params(ci_params, tmp_path, other, error):
    write_precision_study(tmp_path / "a", ci_params(study="a"), shift=0.5, seconds=1.0)
    write_precision_study(tmp_path / "b", ci_params(study="b", amp=not ci_params().amp, **other), shift=0.0,
                          seconds=2.0)
    done = subprocess.run([sys.executable, "benchmarks/precision_comparison.py", str(tmp_path / "a"),
                           str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if error:
        assert done.returncode != 0 and f"differ in more than precision: {error}" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "a" / "precision_vs_b.csv").set_index(["method", "quantity"])
    # l2r's seeds differ by 0.5, 1.0, 1.5 at every cycle: mean 1.0 for the final cycle and the AUBC alike
    diffs = np.array([0.5, 1.0, 1.5])
    low, high = scipy.stats.t.interval(0.95, 2, loc=diffs.mean(), scale=diffs.std(ddof=1) / np.sqrt(3))
    for quantity in ("final", "aubc"):
        row = table.loc[("L2R-AL", quantity)]
        assert row["mean bf16 - float32"] == 1.0 and row["95% interval"] == f"[{low:.4g}, {high:.4g}]"
        assert row["train time float32 / bf16"] == 2.0
    assert table.loc[("Random", "final"), "verdict"] == "not significant"


def test_each_part_is_written_when_it_finishes(tmp_path, monkeypatch):
    """A part that crashes (bench.py on CUDA once crashed in its sorter part) loses none of the parts before it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench  # noqa: PLC0415

    def crash(*args, **kwargs):
        raise RuntimeError("cudnn RNN backward can only be called in training mode")
    monkeypatch.setattr(bench, "bench_vae", crash)
    monkeypatch.setattr(bench, "bench_train_step", lambda *a: pd.DataFrame([{"loop": "x", "images_per_s": 1.0}]))
    monkeypatch.setattr(sys, "argv", ["bench.py", "--parts", "train_step,vae", "--out", str(tmp_path)])
    with pytest.raises(RuntimeError):
        bench.main()
    assert pd.read_csv(tmp_path / "train_step.csv").images_per_s.tolist() == [1.0]


def test_op_counts_see_what_cudnn_fuses():
    """The ops part's counter: an aten::gru's per-step decomposition counts in `before`, as one op in `after`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench  # noqa: PLC0415
    import torch  # noqa: PLC0415

    rnn = torch.nn.GRU(1, 4, num_layers=2, batch_first=True).eval()
    with torch.no_grad():
        before, after = bench.op_counts(lambda: rnn(torch.randn(1, 16, 1)))
    assert after < 16 < 16 * 2 * 5 < before  # 2 layers x 16 steps, several ops each, against a handful


def test_captured_op_counts_hold_each_compiled_forward_and_its_backward():
    """The graphs part's counter against each phase of a step profiled alone: the marked forward's ops and
    the backward's are what a capture holds, the optimizer's stay outside, each marked call two replays."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench  # noqa: PLC0415
    import torch  # noqa: PLC0415

    def aten_ops(fn):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            fn()
        return sum(e.name.startswith("aten::") for e in profile.events())

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, seed = torch.randn(5, 3), torch.ones(())  # the backward's seed given: no op of it outside the engine

    def forward():
        with torch.profiler.record_function(bench.CAPTURED):
            return model(x).sum()

    def step():
        loss = forward()
        optimizer.zero_grad(set_to_none=True)
        loss.backward(seed)
        optimizer.step()
    step()
    counts = bench.captured_op_counts(step)
    forward_ops = aten_ops(forward)
    loss = forward()
    optimizer.zero_grad(set_to_none=True)
    backward_ops = aten_ops(lambda: loss.backward(seed))
    optimizer_ops = aten_ops(optimizer.step) + aten_ops(lambda: optimizer.zero_grad(set_to_none=True))
    assert counts["eager_ops"] == forward_ops + backward_ops + optimizer_ops
    assert counts["ops_in_graphs"] == forward_ops + backward_ops and counts["graph_replays"] == 2
    assert counts["captured_ops"] == optimizer_ops + 2 and counts["of_which_optimizer"] == optimizer_ops > 0
