"""What every experiment notebook does before and after its study, kept out of the notebooks so
the four of them stay a few thin cells each."""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pandas as pd

from .checks import load_params
from .executors.slurm import STATE_DONE, STATE_NOT_SUBMITTED, reachable_live_tasks, slice_states
from .outputs import StudyFolder, merge_results
from .paths import enter_project_root
from .reproduction import verdict_lines
from .running import run as run_here
from .running import study_out


def open_params(params_path: str, data_root: str = "", out_dir: str = ""):
    """Run from the project root (papermill passes --cwd; Jupyter starts in notebooks/), load the
    params (a non-empty `data_root` overrides the file's) and choose the output folder."""
    enter_project_root()
    params = load_params(params_path, {"data_root": data_root} if data_root else None)
    return params, study_out(params, out_dir)


def run(params_path: str, params, device: str, out_dir: Path, jobs: int = 1, progress: bool = True,
        collect: bool = False) -> pd.DataFrame:
    """Run or resume the study as the CLI's `run` does (running.run), one log line per finished cycle under
    the cell; with jobs > 1 in that many worker processes, their lines passed on to the cell. With `collect`,
    run nothing: merge what the slices hold (the tasks of a cluster wrote them) and list the unfinished ones.
    Where the output folder holds a study committed to git, a reproduction: a line at the start says what
    will be computed, on a CPU it runs on the committed rows' thread count unless OMP_NUM_THREADS sets one,
    and the verdict ends the cell."""
    if collect:
        return collected(params, out_dir)
    overrides = [("data_root", params.data_root)] if params.data_root else []
    with workers_write_to_the_cell() if jobs > 1 else nullcontext():
        status, table = run_here(params, params_path, out_dir, device, jobs, overrides=overrides, progress=progress)
    if status:
        raise RuntimeError(f"a worker of the study failed with exit status {status} (its error is above)")
    return table


@contextmanager
def workers_write_to_the_cell():
    """A cell shows what is written to sys.stderr, not what the worker processes write to file descriptor 2
    (the kernel forwards that only where it watches the descriptor, and not under pytest): for the block,
    descriptor 2 is a pipe, each line of it passed on to sys.stderr. Nothing to do where sys.stderr is
    descriptor 2 (a script: passing its own lines on would feed them back)."""
    if _descriptor(sys.stderr) == 2:
        yield
        return
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    os.close(write)
    relay = threading.Thread(target=_relay, args=(read,), daemon=True)
    relay.start()
    try:
        yield
    finally:
        os.dup2(saved, 2)  # the pipe's last write end here closes: the relay ends when the workers have
        os.close(saved)
        relay.join()


def _descriptor(stream) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):  # a kernel's stream, or pytest's capture
        return None


def _relay(descriptor: int) -> None:
    with os.fdopen(descriptor, errors="replace") as lines:
        for line in lines:
            sys.stderr.write(line)
    sys.stderr.flush()


def reproduction(out_dir: str | Path) -> None:
    """For a notebook cell: the verdict of the study in `out_dir` against its committed copy (git HEAD),
    per method, the verdict last; says so where the folder holds no committed study."""
    print("\n".join(verdict_lines(out_dir)))


def collected(params, out_dir: Path) -> pd.DataFrame:
    """The merged rows of the finished cycles; the slices not finished are printed with their state
    (queued, running, failed with its log, not submitted), so that a partial render says what it lacks."""
    table = merge_results(out_dir) if StudyFolder(out_dir).slices_dir.is_dir() else pd.DataFrame()
    if table.empty:
        raise RuntimeError(f"no finished cycle in {out_dir} yet: nothing to render (see `python -m l2ral_lib status"
                           f" {out_dir}`)")
    states = slice_states(params, out_dir, reachable_live_tasks())
    missing = states[states.state != STATE_DONE]
    if len(missing):
        print(f"INCOMPLETE: {len(missing)} of {len(states)} slices unfinished; the tables and figures below hold the"
              " finished cycles, methods short of a seed or cycle marked incomplete:")
        print(unfinished(states))
    return table


def unfinished(states: pd.DataFrame) -> str:
    """The unfinished slices of a study (its `slice_states` rows, one per planned slice) as a reader takes them
    in: the seeds that none of their methods has started on one line (a study growing by seeds has many),
    every other unfinished slice on a row of its own, with its cycles, state and log."""
    missing = states[states.state != STATE_DONE]
    untouched = (states.state == STATE_NOT_SUBMITTED) & states.cycles.str.startswith("0/")
    seeds = [seed for seed, idle in untouched.groupby(states.seed) if idle.all()]
    rows = missing[~missing.seed.isin(seeds)]
    lines = [rows.to_string(index=False)] if len(rows) else []
    if seeds:
        lines.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}: not started by any method")
    return "\n".join(lines)
