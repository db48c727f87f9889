"""Where a study's (method, seed) slices run: in this process or in `--jobs n` processes on this machine
(`local.py`, spread over its GPUs), or as Slurm array tasks (`slurm.py`). Every way runs `loop.run_study`
on its slices in the same output folder, so the rows are the same and a study may move from one way to
another: a slice resumes from its last finished cycle wherever it runs next."""
from __future__ import annotations

import shutil

from ..errors import ParamsError

SLURM_COMMANDS = ("sbatch", "squeue", "srun")  # submit, watch, and start a task's process (submitit)


def require(executor: str) -> None:
    """Stop where the executor cannot work, at once: before the params are read (this package's face
    imports no torch) and before anything is written."""
    if executor != "slurm":
        return
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        raise ParamsError("--executor", f"Slurm is not installed here (no {', '.join(missing)} on PATH): run on the"
                                        " cluster's login node, or use --executor local")
