"""Run or resume a study: the one run path of the CLI's `run` and of the notebooks' `notebook.run`. The
slices run in this process, in `--jobs n` worker processes (executors.local) or as Slurm array tasks
(executors.slurm); where the output folder holds a study committed to git, the run is a reproduction
(reproduction.run_and_compare: its start line, thread count and verdict)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .config import Params
from .errors import ParamsError
from .executors.local import run_jobs
from .executors.slurm import run_on_slurm, wait_for_tasks
from .loop import open_study, run_study
from .outputs import StudyFolder
from .progress import log_to_stderr
from .reproduction import run_and_compare


def study_out(params: Params, out: str | Path | None = None) -> Path:
    """The output folder: `out`, else outputs/<study> under the working directory."""
    return Path(out or Path("outputs") / params.study)


def run(params: Params, params_path: str, out: str | Path, device: str = "auto", jobs: int = 1,
        only: list[tuple[str, int]] | None = None, overrides: list[tuple[str, object]] = (), executor: str = "local",
        wait: bool = False, progress: bool = True, verdict: bool = True) -> tuple[int, pd.DataFrame | None]:
    """Run or resume the slices of the study with `params` (all, or just `only`) in `out`: here, with
    jobs > 1 in that many worker processes, each given `params_path` and the `overrides` (key, value) the
    params were loaded with, or with executor 'slurm' as array tasks (`wait`: until they end). With
    `verdict`, a run over a study committed to git is a reproduction. Returns the exit status (a failed
    worker's, or Slurm's report) and the results table (None where nothing was merged here)."""
    out = Path(out)
    unknown = sorted({method for method, _ in only or []} - set(params.strategies))
    if unknown:
        raise ParamsError("--only", f"methods {unknown} are not in the params' strategies")
    unplanned = [f"{method}:{seed}" for method, seed in only or []
                 if method in params.strategy_seeds and seed not in params.seeds_of(method)]
    if unplanned:
        raise ParamsError("--only", f"{', '.join(unplanned)} lie outside the seeds strategy_seeds plans for them;"
                                    " raise strategy_seeds or list the seed among the first N seeds")
    if jobs < 1:
        raise ParamsError("--jobs", "must be >= 1")
    if executor == "slurm":
        if jobs != 1:
            raise ParamsError("--jobs", "is for --executor local; with slurm every slice is a task and"
                                        " cluster.array_parallelism bounds how many run at once")
        tasks, render = run_on_slurm(params_path, params, out, device, only)
        return (wait_for_tasks(params, out, tasks, render) if wait else 0), None
    if wait:
        raise ParamsError("--wait", "waits for Slurm tasks: use it with --executor slurm")
    log_to_stderr()

    def compute() -> tuple[int, pd.DataFrame | None]:
        folder = StudyFolder(out)
        if jobs == 1:
            table = run_study(params, device, out, only=only, progress=progress)
            print(f"wrote {folder.results_file} ({len(table)} rows)")
            return 0, table
        open_study(params, device, out, progress=False)  # fail fast, once, before the workers start
        code = run_jobs(params_path, params, out, jobs, device, only, overrides)
        return code, None if code else folder.results()  # a failed worker's status: no table to compare then

    return run_and_compare(params, device, out, compute, only) if verdict else compute()
