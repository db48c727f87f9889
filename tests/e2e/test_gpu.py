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

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_fast_path_trains_every_strategy(ci_params, tmp_path):
    """bf16 autocast + channels_last + torch.compile on the ci profile: every strategy runs, finite metrics."""
    params = ci_params(strategies=list_strategies(), amp=True, channels_last=True, compile=True)
    table = run_study(params, "cuda", tmp_path, progress=False)
    assert table.value.notna().all() and len(table[table.metric == "accuracy"]) == len(list_strategies()) * params.n_cycles
    assert (table[table.metric == "gpu_peak_memory_gib"].value > 0).all()


def test_sorter_backward_on_cuda():
    """cuDNN's RNN backward refuses eval mode: the frozen sorter must still pass gradients on the GPU."""
    from l2ral_lib.losses import ranking_loss
    from l2ral_lib.sorter import load_sorter

    predicted = torch.randn(64, device="cuda", requires_grad=True)
    loss = ranking_loss(predicted, torch.rand(64, device="cuda"), load_sorter(64, device="cuda"))
    loss.backward()
    assert predicted.grad is not None and predicted.grad.abs().sum() > 0


def test_jobs_share_one_gpu(tmp_path, tiny_data_root):
    command = [sys.executable, "-m", "l2ral_lib", "run", "params/cifar10-ci.yaml", "--device", "cuda", "--jobs", "3",
               "--no-progress", "--out", str(tmp_path), "--set", f"data_root={tiny_data_root}",
               "--set", "strategies=[random, entropy, l2r]"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert sorted(provenance["slices"]) == ["entropy-seed0", "l2r-seed0", "random-seed0"]


@pytest.mark.parametrize("method", ["entropy", "l2r", "coreset"])
def test_cpu_and_gpu_runs_agree(method, ci_params, tmp_path):
    """fp32 on both: the same initial set, and picks that overlap almost entirely (kernels differ in the
    last bits, so near-ties may swap)."""
    params = ci_params(strategies=[method], lr=0.01)
    tables = {device: run_study(params, device, tmp_path / device, progress=False) for device in ("cpu", "cuda")}
    picks = {device: load_selected(tmp_path / device, method, 0) for device in tables}
    assert picks["cpu"][0] == picks["cuda"][0]
    for cycle in range(1, params.n_cycles):
        shared = set(picks["cpu"][cycle]) & set(picks["cuda"][cycle])
        assert len(shared) >= 0.8 * params.query_size, (cycle, picks)
    accuracy = {d: t[t.metric == "accuracy"].value.reset_index(drop=True) for d, t in tables.items()}
    pd.testing.assert_series_equal(accuracy["cpu"], accuracy["cuda"], atol=10.0)
