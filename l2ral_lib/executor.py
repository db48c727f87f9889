"""Where a study's (method, seed) slices run: in this process, in `--jobs n` processes on this machine
(spread over its GPUs), or as Slurm array tasks (`slurm.py`). Every way runs `loop.run_study` on its
slices in the same output folder, so the rows are the same and a study may move from one way to another:
a slice resumes from its last finished cycle wherever it runs next."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import ParamsError

SLURM_COMMANDS = ("sbatch", "squeue", "srun")  # submit, watch, and start a task's process (submitit)


def require(executor: str) -> None:
    """Stop where the executor cannot work, at once: before the params are read (this module imports no
    torch) and before anything is written."""
    if executor != "slurm":
        return
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        raise ParamsError("--executor", f"Slurm is not installed here (no {', '.join(missing)} on PATH): run on the"
                                        " cluster's login node, or use --executor local")


def worker_devices(device: str, n_workers: int, n_gpus: int) -> list[str]:
    """The device of each `--jobs` worker. `cuda` (and `auto` where GPUs are visible) puts worker i on
    cuda:(i mod n_gpus): one worker per GPU first, then a second on each, and so on (several per GPU fill
    it better than one when the models are small). A device naming one GPU (`cuda:1`), or `cpu`, is
    every worker's."""
    if device in ("cuda", "auto") and n_gpus > 0:
        return [f"cuda:{i % n_gpus}" for i in range(n_workers)]
    return [device] * n_workers


def worker_env(devices: list[str], environ=os.environ, cores: int | None = None) -> dict:
    """The environment of the `--jobs` workers. GPU workers get their share of the cores for their
    CPU-side work (OMP_NUM_THREADS = cores // workers; their numbers come from the GPU). CPU workers keep
    the thread count one process would use: on a CPU the numbers depend on it (loop.warn_thread_mismatch),
    and `--jobs n` must give the rows of one process. n CPU workers then contend for the cores (measured,
    ci profile, `--jobs 2` on 2 cores: 19.2 s with 2 threads per worker, 11.3 s with 1 but other numbers).
    A value the user set is kept."""
    env = dict(environ)
    if not env.get("OMP_NUM_THREADS") and all(device.startswith("cuda") for device in devices):
        env["OMP_NUM_THREADS"] = str(max(1, (cores or len(os.sched_getaffinity(0))) // len(devices)))
    return env


def run_jobs(args, params, out: Path) -> int:
    """Split the (method, seed) slices over `args.jobs` processes, each on its device from
    `worker_devices`, then merge their rows."""
    import torch  # noqa: PLC0415

    from .loop import merge_results, study_slices  # noqa: PLC0415

    slices = study_slices(params, args.only)
    groups = [slices[j::args.jobs] for j in range(args.jobs) if slices[j::args.jobs]]
    devices = worker_devices(args.device, len(groups), torch.cuda.device_count())
    base = [sys.executable, "-m", "l2ral_lib", "run", args.params, "--out", str(out), "--no-progress",
            *[f"--set={key}={json.dumps(value)}" for key, value in args.set]]
    env = worker_env(devices)
    workers = [subprocess.Popen(base + ["--device", device, "--only", *[f"{m}:{s}" for m, s in group]], env=env)
               for group, device in zip(groups, devices)]
    codes = [worker.wait() for worker in workers]
    merge_results(out)
    failed = [code for code in codes if code]
    return failed[0] if failed else 0
