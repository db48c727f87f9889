"""`--jobs n`: n processes on this machine (spread over its GPUs) sharing a study's slices as a queue: each
takes the next slice nobody holds, longest first (loop.Study.run_slices, outputs.SliceFolder.lock)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from ..config import Params
from ..devices import worker_devices
from ..outputs import merge_results
from ..study_folder import study_slices


def worker_env(devices: list[str], environ=os.environ, cores: int | None = None) -> dict:
    """The environment of the `--jobs` workers. GPU workers get their share of the cores for their
    CPU-side work (OMP_NUM_THREADS = cores // workers; their numbers come from the GPU). CPU workers keep
    the thread count one process would use: on a CPU the numbers depend on it (loop.warn_fingerprint_mismatch),
    and `--jobs n` must give the rows of one process. n CPU workers then contend for the cores (measured,
    ci profile, `--jobs 2` on 2 cores: 19.2 s with 2 threads per worker, 11.3 s with 1 but other numbers).
    A value the user set is kept."""
    env = dict(environ)
    if not env.get("OMP_NUM_THREADS") and all(device.startswith("cuda") for device in devices):
        env["OMP_NUM_THREADS"] = str(max(1, (cores or len(os.sched_getaffinity(0))) // len(devices)))
    return env


def run_jobs(params_path: str, params: Params, out: Path, jobs: int, device: str,
             only: list[tuple[str, int]] | None = None, overrides: list[tuple[str, object]] = ()) -> int:
    """Start `jobs` processes (no more than there are slices) on the (method, seed) slices (or just `only`),
    each on its device from `worker_devices` and with the params file and `overrides` (key, value) given;
    they share the slices as a queue, a slice computed by whichever is free first. Then merge their rows."""
    slices = study_slices(params, only)
    devices = worker_devices(device, min(jobs, len(slices)), torch.cuda.device_count())
    base = [sys.executable, "-m", "l2ral_lib", "run", params_path, "--out", str(out), "--no-progress", "--no-verdict",
            *[f"--set={key}={json.dumps(value)}" for key, value in overrides],
            *(["--only", *[f"{m}:{s}" for m, s in only]] if only else [])]
    env = worker_env(devices)
    workers = [subprocess.Popen(base + ["--device", worker], env=env) for worker in devices]
    codes = [worker.wait() for worker in workers]
    merge_results(out)
    failed = [code for code in codes if code]
    return failed[0] if failed else 0
