"""A study on a Slurm cluster, through submitit: one array task per (method, seed) slice not yet finished.

A task runs `loop.run_study` on its one slice, which saves the slice's state after every cycle; a task that
runs again continues from its last finished cycle. So a task may be stopped at any moment: submitit's
checkpoint hook (SIGUSR2, sent by Slurm `signal_delay_s` before the time limit, or on preemption) requeues
it with the same callable, and a task that Slurm or a person requeues (`scontrol requeue`) reruns it too.
Nothing finished is computed again: every run of a slice records the cycles it computed in the slice's
provenance.json.

<out>/jobs/ holds submitit's batch scripts, pickles and logs (<task>_0_log.err: progress and errors) and,
per submission, <job>_slices.json: which task runs which slice. From these records come the report of a
failed task (its error's last line and its log), the state of every slice (`python -m l2ral_lib status`,
the render of a partly finished study), and a second submission's restraint: slices a live task still
holds are not submitted again.
"""
from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import submitit
import torch
from submitit.core.utils import JobPaths, pickle_load

from ..checks import check_study
from ..config import Params
from ..devices import task_device
from ..errors import ParamsError
from ..files import atomic_write_json
from ..loop import run_study
from ..outputs import StudyFolder, merge_results
from ..study_folder import slice_name, study_slices
from ..progress import duration, log_to_stderr
from ..provenance import timestamp

STATE_DONE, STATE_NOT_SUBMITTED = "done", "not submitted"


class SlurmError(RuntimeError):
    """A Slurm command that failed or did not answer: the message has its error lines, on one line."""


def _slurm(*command: str) -> str:
    """stdout of a Slurm command; a failure is a SlurmError."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{command[0]}: no answer within 120 s") from None
    if done.returncode:
        lines = [line.strip().removeprefix(f"{command[0]}: ").removeprefix("error: ")
                 for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SlurmError(f"{command[0]}: {'; '.join(lines) or f'exit status {done.returncode}'}")
    return done.stdout


def live_tasks() -> dict[str, str]:
    """Task id ('123_4'; '123' for a job of one task) -> Slurm state, for every queued, running or
    requeued task of this user."""
    lines = _slurm("squeue", "--noheader", "--array", "--user", getpass.getuser(), "--format", "%i %T").splitlines()
    return dict(line.split() for line in lines if line.strip())


def sbatch_parameters(params: Params, n_tasks: int) -> dict:
    """submitit's SlurmExecutor parameters for `n_tasks` slice tasks of `params.cluster`."""
    c = params.cluster
    parameters = {"job_name": f"l2ral-{params.study}", "time": c.time_min, "cpus_per_task": c.cpus_per_task,
                  "array_parallelism": c.array_parallelism or max(n_tasks, 1),
                  "additional_parameters": dict(c.sbatch_options)}
    optional = {"partition": c.partition, "account": c.account, "qos": c.qos, "gpus_per_task": c.gpus_per_task or None,
                "mem": None if c.mem_gb is None else f"{round(c.mem_gb * 1024)}M", "setup": c.setup or None}
    return {**parameters, **{key: value for key, value in optional.items() if value is not None}}


def sbatch_script(parameters: dict, folder: Path, **extra) -> str:
    """The batch script submitit submits for these parameters (`extra`: its own, such as map_count). submitit
    has no public call that writes it, and a script of our own could differ from the one submitted; so its
    internal function, whose version environment.yml pins, and a one-line error where a submitit lacks it."""
    try:
        from submitit.slurm.slurm import _make_sbatch_string  # noqa: PLC0415
    except ImportError:
        raise ParamsError("--executor", f"submitit {submitit.__version__} has no _make_sbatch_string, which checks the"
                                        " cluster settings before submitting: install the version environment.yml"
                                        " names (pip install submitit==1.5.4)") from None
    return _make_sbatch_string(command="true", folder=folder, **parameters, **extra)


def check_settings(params: Params, jobs_dir: Path) -> None:
    """`sbatch --test-only` on the batch script of one task of `params.cluster`: a partition, account, QOS,
    time limit or resource request that the cluster refuses stops the study here, before anything is written."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="l2ral-test-only-") as script:
        script.write(sbatch_script(sbatch_parameters(params, 1), jobs_dir))
        script.flush()
        try:
            _slurm("sbatch", "--test-only", script.name)
        except SlurmError as error:
            raise ParamsError("cluster", f"Slurm refuses these settings ({str(error).removeprefix('sbatch: ')});"
                                         " change the params' cluster: section, or CLUSTER=key=value with make") from None


def task_threads(environ=os.environ) -> int:
    """A task's torch CPU threads: the cores Slurm gave it (`cluster.cpus_per_task`). Without this torch
    takes every core of the node, which the node's other tasks share where nothing binds them (task/none):
    measured on the single-node test cluster, `make cifar10 PROFILE=ci EXECUTOR=slurm` with two tasks at
    once on 2 cores took 154 s with every task on 2 threads, 38.5 s with 1."""
    return int(environ.get("SLURM_CPUS_PER_TASK") or len(os.sched_getaffinity(0)))


class SliceTask(submitit.helpers.Checkpointable):
    """One slice as a Slurm task. Its checkpoint is the inherited one, this same call submitted again:
    what the next run needs is on disk, the slice's state after its last finished cycle."""

    def __init__(self, params: Params, device: str, out_dir: Path, method: str, seed: int):
        self.params, self.device, self.out_dir, self.method, self.seed = params, device, out_dir, method, seed

    def __call__(self) -> str:
        log_to_stderr()  # a line per finished cycle in the task's log
        torch.set_num_threads(task_threads())
        run_study(self.params, self.device, self.out_dir, only=[(self.method, self.seed)], progress=False)
        return slice_name(self.method, self.seed)


def jobs_dir(out_dir: Path) -> Path:
    """The study's jobs folder, absolute: tasks and their logs are found from any working directory."""
    return StudyFolder(Path(out_dir).resolve()).jobs_dir


def cycles_done(out_dir: Path, method: str, seed: int) -> int:
    return StudyFolder(out_dir).slice(method, seed).cycles_in_view()


def submitted_tasks(out_dir: Path) -> dict[tuple[str, int], str]:
    """(method, seed) -> the task of the latest submission that ran it."""
    records = sorted(jobs_dir(out_dir).glob("*_slices.json"), key=lambda f: int(f.name.split("_")[0]))
    latest = {}
    for record in records:
        for task, (method, seed) in json.loads(record.read_text())["tasks"].items():
            latest[method, seed] = task
    return latest


def submit(params: Params, device: str, out_dir: Path, slices: list[tuple[str, int]]) -> tuple[str, dict]:
    """One array job, a task per slice; returns the job id and task id -> (method, seed)."""
    executor = submitit.SlurmExecutor(folder=jobs_dir(out_dir), max_num_timeout=params.cluster.max_timeouts)
    executor.update_parameters(**sbatch_parameters(params, len(slices)))
    jobs = executor.submit_array([SliceTask(params, device, Path(out_dir).resolve(), m, s) for m, s in slices])
    tasks = {job.job_id: [method, seed] for job, (method, seed) in zip(jobs, slices)}
    job_id = jobs[0].job_id.split("_")[0]
    atomic_write_json(jobs_dir(out_dir) / f"{job_id}_slices.json",
                            {"job": job_id, "submitted": timestamp(time.time()), "command": sys.argv,
                             "tasks": tasks})
    return job_id, {task: tuple(slice_) for task, slice_ in tasks.items()}


def task_outcome(out_dir: Path, task: str) -> tuple[str, Path]:
    """Why a task that left the queue did not finish its slice: its error's last line (from submitit's
    result pickle) or that it left none; and its log."""
    paths = JobPaths(jobs_dir(out_dir), job_id=task, task_id=0)
    if not paths.result_pickle.exists():
        return "ended without a result (cancelled, killed, or out of memory: see its log)", paths.stderr
    outcome, value = pickle_load(paths.result_pickle)
    last = [line for line in str(value).splitlines() if line.strip()]
    return (last[-1].strip() if outcome == "error" and last else f"ended ({outcome}) before the last cycle"), paths.stderr


def slice_states(params: Params, out_dir: Path, live: dict[str, str] | None) -> pd.DataFrame:
    """One row per slice of the study: cycles finished and state -- done; queued or running (task); failed
    (why, and the log); not submitted. `live`: `live_tasks()`, or None where Slurm cannot be asked."""
    tasks, rows = submitted_tasks(out_dir), []
    for method, seed in study_slices(params):
        cycles, task, log = cycles_done(out_dir, method, seed), tasks.get((method, seed)), ""
        if cycles >= params.n_cycles:
            state = STATE_DONE
        elif task is None:
            state = STATE_NOT_SUBMITTED
        elif live is None:
            state = f"task {task}: state unknown (Slurm not reachable here)"
        elif task in live:
            state = f"{live[task].lower()} (task {task})"
        else:
            reason, log = task_outcome(out_dir, task)
            state = f"failed: {reason}"
        rows.append(dict(method=method, seed=seed, cycles=f"{cycles}/{params.n_cycles}", state=state, log=str(log)))
    return pd.DataFrame(rows, columns=["method", "seed", "cycles", "state", "log"])


def reachable_live_tasks() -> dict[str, str] | None:
    """`live_tasks()`, or None without Slurm here (a study copied off the cluster)."""
    if shutil.which("squeue") is None:
        return None
    try:
        return live_tasks()
    except SlurmError:
        return None


def render_hint(params_path: str, out_dir: Path) -> str:
    """How to render the notebook of this study: the make line where the params and the output folder
    are make's, else the merge command."""
    experiment, _, profile = Path(params_path).stem.partition("-")
    make_out = Path("outputs") / f"{experiment}-{profile}"
    if (Path("notebooks") / f"{experiment}.ipynb").is_file() and profile and Path(out_dir) == make_out:
        return f"make {experiment} PROFILE={profile} COLLECT=1"
    return f"{sys.executable} -m l2ral_lib merge {out_dir}   (results.csv and provenance.json)"


def run_on_slurm(params_path: str, params: Params, out_dir: Path, device: str = "auto",
                 only: list[tuple[str, int]] | None = None) -> tuple[dict[str, tuple[str, int]], str]:
    """`run --executor slurm`: every check first (nothing written on a failure), then the params recorded and
    a `reuse_from` study's finished slices copied, then one array job for the unfinished slices no live task
    holds. -> the tasks still queued or running (task id -> slice), which `wait_for_tasks` waits for with --wait, and
    how to render the study."""
    try:
        live = live_tasks()
    except SlurmError as error:
        raise ParamsError("--executor", f"Slurm does not answer ({error}); is this a login node of the cluster?") from None
    check_settings(params, jobs_dir(out_dir))
    device = task_device(device, params.cluster)
    folder = StudyFolder(out_dir)
    check_study(params, folder=folder)
    # the reused study's finished slices are copied here, once, not by tasks running at once
    slices = folder.open(params, only)

    held = {task: slice_ for slice_, task in submitted_tasks(out_dir).items() if task in live and slice_ in slices}
    # cycles saved in a state: a slice whose rows are committed without their state is computed again
    todo = [s for s in slices if folder.slice(*s).cycles_saved() < params.n_cycles and s not in held.values()]
    waiting, hint = dict(held), render_hint(params_path, out_dir)
    if held:
        print(f"{len(held)} slice(s) with a task still queued or running, not submitted again: "
              + ", ".join(f"{slice_name(*s)} (task {t})" for t, s in held.items()))
    if todo:
        job_id, tasks = submit(params, device, out_dir, todo)
        waiting.update(tasks)
        print(f"submitted job {job_id}: {len(todo)} task(s), one per slice, at most"
              f" {min(len(todo), params.cluster.array_parallelism or len(todo))} at once, on {device}\n"
              f"  logs:   {folder.jobs_dir}/{job_id}_<task>_0_log.err (progress, errors) and .out\n"
              f"  watch:  squeue -j {job_id}   or   {sys.executable} -m l2ral_lib status {out_dir}\n"
              f"  render: {hint}", flush=True)
    if not waiting:
        print(f"every slice of {out_dir} is finished: nothing to submit")
    return waiting, hint


def wait_for_tasks(params: Params, out_dir: Path, tasks: dict[str, tuple[str, int]], render: str) -> int:
    """Until no task of `tasks` is queued or running: a line whenever the count of finished slices or the
    queue changes. Then merge the results and report the slices left unfinished (exit status 1). Without
    tasks, merge the finished study."""
    if not tasks:
        merge_results(out_dir)
        return 0
    started, last = time.monotonic(), None
    try:
        while True:
            try:
                live = live_tasks()
            except SlurmError as error:  # a busy controller: ask again at the next poll
                print(f"{time.strftime('%H:%M:%S')} {error}; asking again", flush=True)
                live = None
            cycles = {s: cycles_done(out_dir, *s) for s in tasks.values()}
            states = [live[t] for t in tasks if live and t in live]
            line = (f"{params.study}: {sum(c >= params.n_cycles for c in cycles.values())}/{len(tasks)} slices done,"
                    f" {sum(cycles.values())}/{len(tasks) * params.n_cycles} cycles; {states.count('RUNNING')} running,"
                    f" {len(states) - states.count('RUNNING')} queued")
            if line != last:
                print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
                last = line
            if live is not None and not states:
                break
            # seconds at first (a short study), then every 30 s at most (a controller serves many users)
            time.sleep(min(30.0, 1.0 + (time.monotonic() - started) / 20))
    except KeyboardInterrupt:
        print(f"\nstopped waiting; the tasks keep running (squeue -u {getpass.getuser()}): run the same command to"
              " wait again", file=sys.stderr)
        return 130
    table = merge_results(out_dir)
    unfinished = {task: s for task, s in tasks.items() if cycles_done(out_dir, *s) < params.n_cycles}
    for task, (method, seed) in unfinished.items():
        reason, log = task_outcome(out_dir, task)
        print(f"failed: {slice_name(method, seed)} (task {task}): {reason}\n  log: {log}", file=sys.stderr)
    print(f"wrote {StudyFolder(out_dir).results_file} ({len(table)} rows) after {duration(time.monotonic() - started)}")
    if unfinished:
        print(f"{len(unfinished)} slice(s) failed, the others finished: fix the cause, then run the same command to"
              f" resubmit the unfinished ones; render what is there: {render}", file=sys.stderr)
        return 1
    return 0
