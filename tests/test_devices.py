"""Devices (devices.py): cpu | cuda[:i] | auto for a process, for --jobs workers, for Slurm tasks."""
import pytest
import torch

from helpers import ROOT
from l2ral_lib import devices
from l2ral_lib.__main__ import main
from l2ral_lib.config import Cluster
from l2ral_lib.devices import task_device
from l2ral_lib.errors import ParamsError


@pytest.mark.parametrize("device,message", [("tpu", "device"), ("gpu0", "unknown device")])
def test_unknown_device(tmp_path, capsys, tiny_data_root, device, message):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", device, "--out", str(tmp_path / "o"),
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 2
    assert "params: device:" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_gpu(tmp_path, capsys, tiny_data_root):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cuda", "--out", str(tmp_path / "o"),
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 2
    assert "cuda requested but no GPU" in capsys.readouterr().err


@pytest.mark.parametrize("device,gpus,expected", [("auto", 0, "cpu"), ("auto", 1, "cuda"), ("cpu", 0, "cpu"),
                                                  ("cuda", 2, "cuda")])
def test_each_task_runs_on_the_device_its_resources_give(device, gpus, expected):
    assert task_device(device, Cluster(gpus_per_task=gpus)) == expected


@pytest.mark.parametrize("device,gpus,key", [("cuda", 0, "cluster.gpus_per_task"), ("cpu", 1, "cluster.gpus_per_task"),
                                             ("cuda:1", 1, "--device")])
def test_device_and_gpu_request_must_agree(device, gpus, key):
    with pytest.raises(ParamsError) as info:
        task_device(device, Cluster(gpus_per_task=gpus))
    assert info.value.key == key


@pytest.mark.parametrize("device,n_workers,n_gpus,expected", [
    ("cuda", 5, 2, ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]),
    ("auto", 3, 4, ["cuda:0", "cuda:1", "cuda:2"]),
    ("cuda", 3, 1, ["cuda:0"] * 3),
    ("cuda:1", 3, 2, ["cuda:1"] * 3),
    ("cpu", 2, 2, ["cpu", "cpu"]),
    ("auto", 2, 0, ["auto", "auto"]),
])
def test_jobs_workers_spread_over_the_visible_gpus(device, n_workers, n_gpus, expected):
    assert devices.worker_devices(device, n_workers, n_gpus) == expected


@pytest.mark.parametrize("variable", [None, "5"])
def test_cpu_threads_reach_torch_and_the_processes_started_within_then_come_back(monkeypatch, variable):
    import os
    import subprocess
    import sys

    if variable is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", variable)
    before = torch.get_num_threads()
    with devices.cpu_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        child = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                               capture_output=True, text=True, timeout=120)
        assert child.stdout.strip() == str(before + 1)  # a --jobs worker, the CLI a notebook starts
    assert torch.get_num_threads() == before and os.environ.get("OMP_NUM_THREADS") == variable
    with devices.cpu_threads(None):  # nothing to choose: nothing changes
        assert torch.get_num_threads() == before and os.environ.get("OMP_NUM_THREADS") == variable
