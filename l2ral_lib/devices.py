"""Device strings, parsed in one place: `cpu | cuda[:i] | auto` for one process (`resolve_device`), for
the `--jobs` workers of this machine (`worker_devices`) and for Slurm tasks (`task_device`)."""
from __future__ import annotations

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
        raise ParamsError("device", "cuda requested but no GPU is visible; use --device cpu (or auto)")
    return device


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
