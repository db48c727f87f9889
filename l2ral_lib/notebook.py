"""What every experiment notebook does before and after its study, kept out of the notebooks so
the four of them stay a few thin cells each."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from .checks import load_params
from .executors.slurm import STATE_DONE, reachable_live_tasks, slice_states
from .loop import run_study
from .outputs import merge_results
from .paths import enter_project_root
from .progress import log_to_stderr
from .reproduction import run_and_compare, verdict_lines


def open_params(params_path: str, data_root: str = "", out_dir: str = ""):
    """Run from the project root (papermill passes --cwd; Jupyter starts in notebooks/), load the
    params (a non-empty `data_root` overrides the file's) and choose the output folder."""
    enter_project_root()
    params = load_params(params_path, {"data_root": data_root} if data_root else None)
    return params, Path(out_dir or Path("outputs") / params.study)


def run(params_path: str, params, device: str, out_dir: Path, jobs: int = 1, progress: bool = True,
        collect: bool = False) -> pd.DataFrame:
    """Run or resume the study, one log line per finished cycle under the cell; with jobs > 1 through
    the CLI's process pool (results merged), its lines passed on to this cell. With `collect`, run
    nothing: merge what the slices hold (the tasks of a cluster wrote them) and list the unfinished ones.
    Where the output folder holds a study committed to git, a reproduction, as with the CLI
    (reproduction.run_and_compare): a line at the start says what will be computed, on a CPU it runs on the
    committed rows' thread count unless OMP_NUM_THREADS sets one, and the verdict ends the cell."""
    if collect:
        return collected(params, out_dir)
    log_to_stderr()
    return run_and_compare(params, device, out_dir, lambda: computed(params_path, params, device, out_dir, jobs, progress))


def reproduction(out_dir: str | Path) -> None:
    """For a notebook cell: the verdict of the study in `out_dir` against its committed copy (git HEAD),
    per method, the verdict last; says so where the folder holds no committed study."""
    print("\n".join(verdict_lines(out_dir)))


def computed(params_path: str, params, device: str, out_dir: Path, jobs: int, progress: bool) -> pd.DataFrame:
    """The study run here, or with jobs > 1 through the CLI's process pool (its lines passed on)."""
    if jobs <= 1:
        return run_study(params, device, out_dir, progress=progress)
    command = [sys.executable, "-m", "l2ral_lib", "run", params_path, "--device", device, "--out", str(out_dir),
               "--jobs", str(jobs), "--no-verdict"]
    if params.data_root:
        command += ["--set", f"data_root={params.data_root}"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as workers:
        for line in workers.stderr:  # the workers' progress lines, into the notebook as they come
            sys.stderr.write(line)
    if workers.returncode:
        raise subprocess.CalledProcessError(workers.returncode, command)
    return pd.read_csv(out_dir / "results.csv")


def collected(params, out_dir: Path) -> pd.DataFrame:
    """The merged rows of the finished cycles; the slices not finished are printed with their state
    (queued, running, failed with its log, not submitted), so that a partial render says what it lacks."""
    table = merge_results(out_dir) if (Path(out_dir) / "slices").is_dir() else pd.DataFrame()
    if table.empty:
        raise RuntimeError(f"no finished cycle in {out_dir} yet: nothing to render (see `python -m l2ral_lib status"
                           f" {out_dir}`)")
    states = slice_states(params, out_dir, reachable_live_tasks())
    missing = states[states.state != STATE_DONE]
    if len(missing):
        print(f"INCOMPLETE: {len(missing)} of {len(states)} slices unfinished; the tables and figures below hold the"
              " finished cycles, methods short of a seed or cycle marked incomplete:")
        print(missing.to_string(index=False))
    return table
