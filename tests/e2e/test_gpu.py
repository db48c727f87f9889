"""GPU-only checks (`pytest -m gpu`; skipped without CUDA). Run them first whenever a GPU is at hand."""
import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from helpers import ROOT
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import load_selected
from l2ral_lib.strategies import list_strategies

gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
# the fast path over every strategy: bald samples the dropout layer, so dropout > 0 (it refuses 0)
FAST_PATH = dict(strategies=list_strategies(), amp=True, channels_last=True, dropout=0.3)
# the steps that differ in what a CUDA graph must hold: plain, LossNet, the sorter's custom operator, the VAE
CAPTURED = dict(strategies=["random", "ll4al", "l2r", "vaal"], amp=True, channels_last=True, compile="reduce-overhead")


def test_fast_path_params_load(ci_params):
    """Runs everywhere (no gpu mark): the GPU test's params pass every check, so that test reaches the GPU."""
    params = ci_params(**FAST_PATH)
    assert params.strategies == list_strategies() and params.dropout > 0
    assert ci_params(**CAPTURED).compile == "reduce-overhead"


@gpu
@needs_cuda
def test_fast_path_trains_every_strategy(ci_params, tmp_path):
    """bf16 autocast + channels_last on the ci profile: every strategy runs, finite metrics."""
    params = ci_params(**FAST_PATH)
    table = run_study(params, "cuda", tmp_path, progress=False)
    assert table.value.notna().all() and len(table[table.metric == "accuracy"]) == len(list_strategies()) * params.n_cycles
    assert (table[table.metric == "gpu_peak_memory_gib"].value > 0).all()


@gpu
@needs_cuda
def test_reduce_overhead_captures_every_step_in_cuda_graphs(ci_params, tmp_path):
    """compile: reduce-overhead: every compiled step recorded as CUDA graphs (inductor counts each graph it
    had to leave uncaptured: none), the study's metrics finite."""
    from torch._dynamo.utils import counters

    counters.clear()
    params = ci_params(**CAPTURED)
    table = run_study(params, "cuda", tmp_path, progress=False)
    assert table.value.notna().all()
    assert counters["inductor"]["cudagraph_skips"] == 0, dict(counters["inductor"])
    assert counters["stats"]["unique_graphs"] > 0


@gpu
@needs_cuda
def test_sorter_backward_on_cuda():
    """cuDNN's RNN backward refuses eval mode: the frozen sorter must still pass gradients on the GPU."""
    from l2ral_lib.losses import ranking_loss
    from l2ral_lib.sorter import load_sorter

    predicted = torch.randn(64, device="cuda", requires_grad=True)
    loss = ranking_loss(predicted, torch.rand(64, device="cuda"), load_sorter(64, device="cuda"))
    loss.backward()
    assert predicted.grad is not None and predicted.grad.abs().sum() > 0


@gpu
@needs_cuda
def test_jobs_share_one_gpu(tmp_path, tiny_data_root):
    command = [sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-ci.yaml", "--device", "cuda", "--jobs", "3",
               "--no-progress", "--out", str(tmp_path), "--set", f"data_root={tiny_data_root}",
               "--set", "strategies=[random, entropy, l2r]"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert sorted(provenance["slices"]) == ["entropy-seed0", "l2r-seed0", "random-seed0"]


@gpu
@needs_cuda
@pytest.mark.parametrize("method", ["entropy", "l2r", "coreset"])
def test_cpu_and_gpu_runs_share_their_start_and_deterministic_gpu_runs_repeat(method, ci_params, tmp_path):
    """What is true of CPU against GPU: the same initial labeled set and model initialisation (seeds.py draws
    them on the CPU generator), then different random streams (batch order, crops and flips come from the
    device's generator: mt19937 on the CPU, Philox on CUDA), so the picks of later cycles are not expected to
    match. What is true on one GPU with `deterministic`: a rerun repeats every metric and pick to the last digit."""
    params = ci_params(strategies=[method], deterministic=True)
    runs = {name: run_study(params, device, tmp_path / name, progress=False)
            for name, device in (("cpu", "cpu"), ("cuda-a", "cuda"), ("cuda-b", "cuda"))}
    picks = {name: load_selected(tmp_path / name, method, 0) for name in runs}
    assert picks["cpu"][0] == picks["cuda-a"][0]
    assert picks["cuda-a"] == picks["cuda-b"]
    kept = {name: t[~t.metric.str.startswith(("time_", "gpu_"))].reset_index(drop=True) for name, t in runs.items()}
    pd.testing.assert_frame_equal(kept["cuda-a"], kept["cuda-b"])


@gpu
@needs_cuda
def test_each_slice_reports_its_own_peak_memory(ci_params, tmp_path):
    """gpu_peak_memory_gib was never reset: every slice after VAAL reported VAAL's peak."""
    params = ci_params(strategies=["vaal", "random"], vaal_width=64, vaal_iterations=20)
    table = run_study(params, "cuda", tmp_path, progress=False)
    peak = table[table.metric == "gpu_peak_memory_gib"].groupby("method").value.max()
    assert peak["random"] < peak["vaal"]


@gpu
@needs_cuda
def test_bench_sorter_part_runs_on_cuda():
    """bench.py deep-copies the sorter's GRU in eval mode with grads on: under cuDNN its backward raised
    "cudnn RNN backward can only be called in training mode"."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench  # noqa: PLC0415

    table = bench.bench_sorter(torch.device("cuda"), rounds=1)
    assert (table[["sorter_fwd_bwd_ms", "no_cudnn_fwd_bwd_ms", "autograd_fwd_bwd_ms"]] > 0).all(axis=None)
