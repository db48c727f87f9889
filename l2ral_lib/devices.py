"""Device strings, parsed in one place: `cpu | cuda[:i] | auto` for one process (`resolve_device`), for
the `--jobs` workers of this machine (`worker_devices`) and for Slurm tasks (`task_device`); a CPU thread
count for a block and the processes it starts (`cpu_threads`)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import torch

from .config import Cluster
from .errors import ParamsError


def resolve_device(name: str) -> torch.device:
    """cpu | cuda[:i] | auto (cuda when available). Asking for cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ParamsError("device", f"unknown device '{name}'; use cpu, cuda or auto") from None
    if device.type not in ("cpu", "cuda"):
        raise ParamsError("device", f"unsupported device '{name}'; use cpu, cuda or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParamsError("device", driver_mismatch() or "cuda requested but no GPU is visible; use --device cpu"
                                                          " (or auto)")
    return device


@contextlib.contextmanager
def cpu_threads(count: int | None):
    """Within it torch computes on `count` CPU threads, and so do the processes started meanwhile (the `--jobs`
    workers, the CLI a notebook starts: torch reads OMP_NUM_THREADS when it starts); the caller's count and
    environment come back after. None changes nothing."""
    if count is None:
        yield
        return
    before, variable = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(count)
    os.environ["OMP_NUM_THREADS"] = str(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if variable is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = variable


def nvidia_driver() -> str | None:
    """The NVIDIA driver version nvidia-smi reports, or None (no nvidia-smi, or it fails)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        answer = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = answer.stdout.split()
    return lines[0] if answer.returncode == 0 and lines else None


def driver_mismatch() -> str | None:
    """Why torch sees no GPU on a machine that has one, or None where none is present: the usual cause
    is a driver older than the CUDA build of the torch wheel (`make setup` installs a CUDA 13.0 build,
    which needs a driver of the 580 series or later)."""
    driver, present = nvidia_driver(), Path("/dev/nvidia0").exists()
    try:
        torch.cuda.device_count()
        complaint = None
    except RuntimeError as error:  # e.g. "The NVIDIA driver on your system is too old"
        complaint = str(error).splitlines()[0] if "driver" in str(error).lower() else None
    if not (driver or present or complaint):
        return None
    return (f"cuda requested and a GPU is present (driver {driver or 'unknown: nvidia-smi gave none'}), but torch"
            f" {torch.__version__} (built for CUDA {torch.version.cuda or 'none: a CPU-only build'}) cannot use it"
            f"{': ' + complaint if complaint else ''}; the driver is likely older than the CUDA build needs: update"
            " the NVIDIA driver, or install the torch wheel built for the CUDA the driver supports (nvidia-smi's"
            " 'CUDA Version'), e.g. pip install torch --index-url https://download.pytorch.org/whl/cu126;"
            " or run with --device cpu")


def device_name(device: str) -> str:
    """The kind of device a run on `device` uses, as gpu-check files name it: the GPU's name, or "cpu"."""
    resolved = resolve_device(device) if device != "cpu" else torch.device("cpu")
    return torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else "cpu"


def worker_devices(device: str, n_workers: int, n_gpus: int) -> list[str]:
    """The device of each `--jobs` worker. `cuda` (and `auto` where GPUs are visible) puts worker i on
    cuda:(i mod n_gpus): one worker per GPU first, then a second on each, and so on (several per GPU fill
    it better than one when the models are small). A device naming one GPU (`cuda:1`), or `cpu`, is
    every worker's."""
    if device in ("cuda", "auto") and n_gpus > 0:
        return [f"cuda:{i % n_gpus}" for i in range(n_workers)]
    return [device] * n_workers


def task_device(device: str, cluster: Cluster) -> str:
    """The device every task runs on, decided here rather than on each node: `auto` means cuda when the
    tasks get GPUs. The GPU request and the device must agree."""
    if device == "auto":
        return "cuda" if cluster.gpus_per_task else "cpu"
    if device not in ("cpu", "cuda"):
        raise ParamsError("--device", f"'{device}' with --executor slurm: use cpu, cuda or auto (a task sees the GPUs"
                                      " it was given as cuda:0, ...)")
    if device == "cuda" and not cluster.gpus_per_task:
        raise ParamsError("cluster.gpus_per_task", "is 0, but --device cuda needs a GPU per task; set"
                                                   " cluster.gpus_per_task: 1 (make: CLUSTER=gpus_per_task=1)")
    if device == "cpu" and cluster.gpus_per_task:
        raise ParamsError("cluster.gpus_per_task", f"asks {cluster.gpus_per_task} GPU(s) per task that --device cpu"
                                                   " leaves idle; set cluster.gpus_per_task: 0 (make:"
                                                   " CLUSTER=gpus_per_task=0), or use --device cuda")
    return device


def reproducibility_note(provenance_file: Path, deterministic: bool, device: str) -> str:
    """One line for `verify`: whether a rerun on `device` can reproduce a slice whose runs provenance_file
    records, computed with params `deterministic`. CPU: exactly, on the recorded thread count. CPU against
    GPU: no, different random streams (batch order, crops, flips come from the device's generator: mt19937
    against Philox); only cycle 0's labeled set and initial model are shared. GPU: exactly only with
    `deterministic` on the same GPU model and software; otherwise cuDNN's and atomic kernels vary."""
    runs = json.loads(Path(provenance_file).read_text())["runs"] if Path(provenance_file).is_file() else []
    kinds = {torch.device(run["hardware"]["device"]).type for run in runs}
    rerun = "cuda" if device == "auto" and torch.cuda.is_available() else device.split(":")[0].replace("auto", "cpu")
    if not kinds:
        return "verify: no provenance recorded for this slice; nothing is known of where it ran"
    if kinds != {rerun}:
        return (f"verify: the slice ran on {', '.join(sorted(kinds))}, the rerun on {rerun}: CPU and GPU runs are"
                " different random streams, so rows and picks are expected to differ after cycle 0's initial set")
    if rerun == "cpu":
        return "verify: CPU slice, CPU rerun on its recorded thread count: expected identical to the last digit"
    gpus = sorted({run["hardware"].get("gpu", "?") for run in runs})
    versions = sorted({run["versions"]["torch"] for run in runs})
    if deterministic:
        return (f"verify: GPU slice with deterministic kernels (ran on {', '.join(gpus)}, torch {', '.join(versions)}):"
                " identical to the last digit on the same GPU model and software, not otherwise")
    return ("verify: GPU slice without `deterministic`: cuDNN's and atomic kernels vary run to run, so the last"
            " digits and then picks may differ; set deterministic: true for GPU runs that repeat")
