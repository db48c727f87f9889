"""A study as Slurm array tasks (`run --executor slurm`, `make <experiment> EXECUTOR=slurm`), on a real
single-node cluster (`.ci/slurm-cluster start`: the `slurm` tests need it, CI fails them without it); and
what needs no cluster: the refusal without Slurm, the sbatch settings, each task's device, each --jobs
worker's GPU."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import papermill
import pytest
import torch
import yaml

from helpers import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.executors import slurm
from l2ral_lib.errors import ParamsError
from l2ral_lib.executors.slurm import live_tasks, render_hint, sbatch_parameters, sbatch_script
from l2ral_lib.loop import run_study
from l2ral_lib.study_folder import SliceLayout

VENV = ROOT / ".venv" if (ROOT / ".venv").is_dir() else None


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "l2ral_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env=env)


def make(*args, env=None):
    """make in the project with this interpreter's virtual environment, taken as set up (no "Entering
    directory" lines when the tests themselves run under `make test`)."""
    venv = os.path.dirname(os.path.dirname(sys.executable))
    return subprocess.run([shutil.which("make"), "--no-print-directory", "-o", f"{venv}/.installed", f"VENV={venv}",
                           *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=env)


def measured(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that must not depend on where a slice ran (timings do)."""
    return table[~table.metric.str.startswith("time_")].reset_index(drop=True)


# --- no cluster needed

def test_without_slurm_executor_slurm_stops_at_once_with_one_line(tmp_path):
    """No sbatch on PATH: exit status 2 and one line, before the params are read (torch is not even
    imported) or anything is written."""
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    run = ["run", "params/cifar10-ci.yaml", "--executor", "slurm", "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-c", "import sys; from l2ral_lib.__main__ import main; code = main(sys.argv[1:]);"
                           " print('torch' in sys.modules); sys.exit(code)", *run],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 2 and done.stdout == "False\n"
    assert done.stderr.strip() == ("error: params: --executor: Slurm is not installed here (no sbatch, squeue, srun on"
                                   " PATH): run on the cluster's login node, or use --executor local")
    made = make("cifar10", "PROFILE=ci", "EXECUTOR=slurm", f"OUTPUTS={tmp_path / 'outputs'}", env=env)
    assert made.returncode == 2 and "error: params: --executor: Slurm is not installed here" in made.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("setting,study,collect", [
    ([], r"\.venv/bin/python -m l2ral_lib check params/cifar10-ci\.yaml\n", "False"),
    (["EXECUTOR=slurm", "CLUSTER=partition=gpu time_min=60"],
     r"\.venv/bin/python -m l2ral_lib run params/cifar10-ci\.yaml --executor slurm --wait --device auto"
     r" --out outputs/cifar10-ci\s+--set cluster\.partition=gpu --set cluster\.time_min=60\s*\n", "True"),
    (["COLLECT=1"], "", "True"),
], ids=["local", "slurm", "collect"])
def test_make_experiment_study_step_by_executor(setting, study, collect):
    """What `make cifar10` runs before the notebook (nothing with COLLECT=1), and whether the notebook
    only renders."""
    dry = make("-n", "cifar10", "PROFILE=ci", *setting)
    assert dry.returncode == 0, dry.stderr
    before_notebook = dry.stdout.split("mkdir -p outputs/cifar10-ci")[0]
    assert re.fullmatch(study, before_notebook.replace(os.path.dirname(os.path.dirname(sys.executable)), ".venv")), \
        before_notebook
    assert f"-p collect {collect}" in dry.stdout
    wrong = make("-n", "cifar10", "PROFILE=ci", "EXECUTOR=slrum")
    assert wrong.returncode == 2 and "EXECUTOR is local or slurm, not 'slrum'" in wrong.stderr


def test_render_hint_names_the_make_line_of_makes_own_folder(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert render_hint("params/cifar10-paper.yaml", Path("outputs/cifar10-paper")) == "make cifar10 PROFILE=paper COLLECT=1"
    assert render_hint("params/cifar10-modern-smoke.yaml", Path("outputs/cifar10-modern-smoke")) == \
        "make cifar10 PROFILE=modern-smoke COLLECT=1"
    assert render_hint("params/cifar10-paper.yaml", Path("/scratch/c10")).endswith("-m l2ral_lib merge /scratch/c10"
                                                                                   "   (results.csv and provenance.json)")


def test_wait_is_refused_without_slurm_executor(tmp_path, capsys):
    assert main(["run", "params/cifar10-ci.yaml", "--wait", "--out", str(tmp_path / "o")]) == 2
    assert "params: --wait:" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_cluster_section_becomes_the_sbatch_script(tmp_path):
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"cluster": {
        "partition": "gpu", "account": "proj", "qos": "high", "gpus_per_task": 2, "cpus_per_task": 8, "mem_gb": 1.5,
        "time_min": 90, "array_parallelism": 3, "setup": ["module load cuda/12.4"],
        "sbatch_options": {"constraint": "a100", "exclusive": True, "nice": 10}}})
    script = sbatch_script(sbatch_parameters(params, 5), tmp_path, map_count=5)
    flags = {line for line in script.splitlines() if line.startswith("#SBATCH")}
    assert {"#SBATCH --partition=gpu", "#SBATCH --account=proj", "#SBATCH --qos=high", "#SBATCH --gpus-per-task=2",
            "#SBATCH --cpus-per-task=8", "#SBATCH --mem=1536M", "#SBATCH --time=90", "#SBATCH --array=0-4%3",
            "#SBATCH --constraint=a100", "#SBATCH --exclusive", "#SBATCH --nice=10",
            "#SBATCH --job-name=l2ral-cifar10-ci"} <= flags
    assert "module load cuda/12.4" in script.splitlines()
    # the ci profile's own section: one core, no GPU, no partition, memory or QOS asked, every task at once
    ci = sbatch_parameters(load_params(ROOT / "params" / "cifar10-ci.yaml"), 6)
    assert ci == {"job_name": "l2ral-cifar10-ci", "time": 10, "cpus_per_task": 1, "array_parallelism": 6,
                  "additional_parameters": {}}


def test_a_submitit_without_its_batch_script_function_is_one_line_naming_the_version(monkeypatch, tmp_path):
    """The settings check needs submitit's internal script writer; a submitit without it stops the study with
    one line saying which version to install, not an ImportError at import time."""
    import submitit.slurm.slurm as submitit_slurm

    monkeypatch.delattr(submitit_slurm, "_make_sbatch_string")
    with pytest.raises(ParamsError) as error:
        slurm.check_settings(load_params(ROOT / "params" / "cifar10-ci.yaml"), tmp_path)
    assert str(error.value) == (f"params: --executor: submitit {slurm.submitit.__version__} has no _make_sbatch_string,"
                                " which checks the cluster settings before submitting: install the version"
                                " environment.yml names (pip install submitit==1.5.4)")


def test_slurm_task_trains_on_the_cores_slurm_gave_it(monkeypatch, tmp_path):
    """SliceTask sets torch's threads to SLURM_CPUS_PER_TASK before its slice runs."""
    seen = []
    monkeypatch.setattr(slurm, "run_study", lambda *args, **kwargs: seen.append(torch.get_num_threads()))
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    before = torch.get_num_threads()
    try:
        params = load_params(ROOT / "params" / "cifar10-ci.yaml")
        assert slurm.SliceTask(params, "cpu", tmp_path, "random", 0)() == "random-seed0"
    finally:
        torch.set_num_threads(before)
    assert seen == [3]
    assert slurm.task_threads({}) == len(os.sched_getaffinity(0))


def test_status_of_a_study_run_here(tmp_path, tiny_data_root, capsys):
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root),
                                                               "strategies": ["random", "entropy"]})
    run_study(params, "cpu", tmp_path, only=[("random", 0)], progress=False)
    assert main(["status", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\s*random\s+0\s+3/3\s+done\s*", lines[1]) and re.fullmatch(
        r"\s*entropy\s+0\s+0/3\s+not submitted\s*", lines[2]), lines


# --- on a Slurm cluster

@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_refuses_settings_before_anything_is_written(slurm_cluster, tmp_path, tiny_data_root):
    done = cli("run", "params/cifar10-ci.yaml", "--executor", "slurm", "--out", str(tmp_path / "out"),
               "--set", f"data_root={tiny_data_root}", "--set", "cluster.partition=nope")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: params: cluster: Slurm refuses these settings (")
    assert "nope" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slurm
@pytest.mark.slow
def test_make_experiment_with_executor_slurm_equals_the_local_study(slurm_cluster, tmp_path, tiny_data_root, ci_params):
    """The ci profile as it ships, through `make cifar10 EXECUTOR=slurm`: a task per slice, a live count, the
    notebook rendered from the merged slices, rows equal to the same study run here."""
    env = {**os.environ, "L2RAL_DATA": str(tiny_data_root)}
    made = make("cifar10", "PROFILE=ci", "EXECUTOR=slurm", "DEVICE=cpu", f"OUTPUTS={tmp_path}",
                "CLUSTER=time_min=5 array_parallelism=2", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    job = re.search(r"submitted job (\d+): 6 task\(s\), one per slice, at most 2 at once", made.stdout).group(1)
    assert f"logs:   {tmp_path}/cifar10-ci/jobs/{job}_<task>_0_log.err" in made.stdout
    assert f"squeue -j {job}" in made.stdout and "cifar10-ci: 6/6 slices done, 18/18 cycles" in made.stdout
    out = tmp_path / "cifar10-ci"
    script = (out / "jobs" / f"{job}_submission.sh").read_text()  # the params' section with CLUSTER on top
    assert "#SBATCH --time=5" in script and "#SBATCH --array=0-5%2" in script and "#SBATCH --cpus-per-task=1" in script
    assert (out / "figures" / "fig4_accuracy.png").is_file() and (out / "cifar10.ipynb").is_file()
    local = local_study(ci_params(), tmp_path / "local")
    pd.testing.assert_frame_equal(measured(pd.read_csv(out / "results.csv")), measured(local))
    # each task's log has its slice's progress lines
    assert sum("cycles done, elapsed" in log.read_text() for log in (out / "jobs").glob("*_log.err")) == 6
    # a finished study submits nothing again
    again = cli("run", "params/cifar10-ci.yaml", "--executor", "slurm", "--wait", "--out", str(out), env=env)
    assert again.returncode == 0 and f"every slice of {out} is finished: nothing to submit" in again.stdout
    assert len(list((out / "jobs").glob("*_slices.json"))) == 1



@pytest.mark.slurm
@pytest.mark.slow
def test_reused_slices_are_copied_at_submission_and_not_submitted(slurm_cluster, tmp_path, tiny_data_root, ci_params):
    """`reuse_from` on Slurm: the submission copies the sibling study's finished slices, once, before any
    task starts (tasks starting at once never race on the copy), and submits only the slices left."""
    local_study(ci_params(study="base", strategies=["random"]), tmp_path / "base")
    done = cli("run", "params/cifar10-ci.yaml", "--executor", "slurm", "--wait", "--out", str(tmp_path / "grown"),
               "--set", f"data_root={tiny_data_root}", "--set", "study=grown", "--set", "reuse_from=base",
               "--set", "strategies=[random,entropy]", "--set", "cluster.time_min=5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 task(s), one per slice" in done.stdout and "grown: 1/1 slices done" in done.stdout
    copied = SliceLayout(tmp_path / "grown" / "slices" / "random-seed0")
    assert copied.provenance()["copied_from"] == str(tmp_path / "base" / "slices" / "random-seed0")
    assert set(pd.read_csv(tmp_path / "grown" / "results.csv").method) == {"random", "entropy"}

def local_study(params, out):
    """The study run here, as the reference of a Slurm run: on the thread count of its tasks
    (cluster.cpus_per_task; on a CPU the numbers depend on it, see loop.warn_fingerprint_mismatch)."""
    before = torch.get_num_threads()
    torch.set_num_threads(params.cluster.cpus_per_task)
    try:
        return run_study(params, "cpu", out, progress=False)
    finally:
        torch.set_num_threads(before)


def wait_for(what: str, condition, seconds: float = 600):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)


def queue_state(task: str) -> str:
    """The task's Slurm state ('' once it has left the queue)."""
    return live_tasks().get(task, "")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, tiny_data_root, slurm_cluster):
    """A three-slice study submitted to Slurm, then, each past its first finished cycle: l2r stopped the way
    a time limit or preemption stops a task (SIGUSR2: submitit's checkpoint hook requeues it) and random
    requeued from outside (`scontrol requeuehold`). entropy's saved state is broken: its task fails. The two
    requeued tasks are held in the queue while `status` looks and the same command runs again with --wait
    (it must leave them alone and resubmit entropy), then released."""
    tmp = tmp_path_factory.mktemp("interrupted")
    params_file, out = tmp / "ci-long.yaml", tmp / "study"
    params_file.write_text(yaml.safe_dump({"base": str(ROOT / "params" / "cifar10-ci.yaml"),
                                           "data_root": str(tiny_data_root), "strategies": ["random", "entropy", "l2r"],
                                           "max_labeled": 80}))  # 7 cycles: room to stop a slice halfway
    try:
        broken = out / "slices" / "entropy-seed0"
        broken.mkdir(parents=True)
        (broken / "state.pt").write_bytes(b"not a checkpoint")
        command = [sys.executable, "-m", "l2ral_lib", "run", str(params_file), "--executor", "slurm", "--out", str(out)]
        submitted = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert submitted.returncode == 0, submitted.stderr
        job = re.search(r"submitted job (\d+)", submitted.stdout).group(1)
        tasks = {f"{m}-seed{s}": task for task, (m, s) in
                 json.loads((out / "jobs" / f"{job}_slices.json").read_text())["tasks"].items()}
        stops = {"l2r-seed0": ["scancel", "--signal=USR2", tasks["l2r-seed0"]],
                 "random-seed0": ["scontrol", "requeuehold", tasks["random-seed0"]]}
        stopped_at = {}

        def stop_each_after_its_first_cycle():
            for name, stop in stops.items():
                cycles = SliceLayout(out / "slices" / name).cycles_in_view()
                if name not in stopped_at and cycles >= 1:
                    subprocess.run(stop, check=True, timeout=60)
                    stopped_at[name] = cycles
            return len(stopped_at) == len(stops)

        wait_for("a finished cycle of random and of l2r", stop_each_after_its_first_cycle)
        # submitit requeued l2r itself: hold it while it waits out Slurm's requeue delay
        wait_for("l2r queued again", lambda: queue_state(tasks["l2r-seed0"]) == "PENDING")
        subprocess.run(["scontrol", "hold", tasks["l2r-seed0"]], check=True, timeout=60)
        wait_for("entropy's task failed", lambda: queue_state(tasks["entropy-seed0"]) == "")
        status = cli("status", str(out))
        again = subprocess.Popen([*command, "--wait"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = [again.stdout.readline() for _ in range(2)]  # the held tasks, then entropy's new job
        finally:
            subprocess.run(["scontrol", "release", tasks["l2r-seed0"], tasks["random-seed0"]], check=True, timeout=60)
        try:
            stdout, stderr = again.communicate(timeout=900)
        finally:
            again.kill()
        waited = SimpleNamespace(returncode=again.returncode, stdout="".join(first) + stdout, stderr=stderr)
        yield SimpleNamespace(out=out, params_file=params_file, tasks=tasks, status=status, stopped_at=stopped_at,
                               waited=waited, params=load_params(params_file))
    finally:  # nothing of the study left in the queue, whatever failed (held tasks would wait forever)
        for record in (out / "jobs").glob("*_slices.json"):
            subprocess.run(["scancel", record.name.split("_")[0]], capture_output=True, timeout=60)


@pytest.mark.slurm
@pytest.mark.slow
def test_status_shows_the_state_of_each_slice(interrupted):
    """Between the requeues and the release: l2r queued with its first cycles done, entropy failed."""
    assert interrupted.status.returncode == 0, interrupted.status.stderr
    task = re.escape(interrupted.tasks["l2r-seed0"])
    assert re.search(rf"^\s*l2r\s+0\s+[1-6]/7\s+pending \(task {task}\)", interrupted.status.stdout, re.MULTILINE)
    assert re.search(r"^\s*entropy\s+0\s+0/7\s+failed: _pickle.UnpicklingError: .* \S+_0_log\.err$",
                     interrupted.status.stdout, re.MULTILINE), interrupted.status.stdout


@pytest.mark.slurm
@pytest.mark.slow
def test_requeued_tasks_end_with_the_rows_of_an_uninterrupted_run(interrupted, tmp_path):
    n_cycles = interrupted.params.n_cycles
    assert all(1 <= cycles < n_cycles for cycles in interrupted.stopped_at.values()), interrupted.stopped_at
    local = local_study(load_params(interrupted.params_file, {"strategies": ["random", "l2r"]}), tmp_path)
    pd.testing.assert_frame_equal(measured(pd.read_csv(interrupted.out / "results.csv")), measured(local))


@pytest.mark.slurm
@pytest.mark.slow
def test_requeued_tasks_compute_no_cycle_twice(interrupted):
    """Every run of a slice records the cycles it computed (provenance.json): together each cycle once."""
    slices = json.loads((interrupted.out / "provenance.json").read_text())["slices"]
    for name in ("l2r-seed0", "random-seed0"):
        computed = sorted(c for run in slices[name] for c in range(run["first_cycle"], run["cycles_done"]))
        assert computed == list(range(interrupted.params.n_cycles)), (name, slices[name])
    # l2r left at once when its checkpoint hook had requeued it: the next run took over where it stopped
    runs = slices["l2r-seed0"]
    assert len(runs) == 2 and runs[1]["first_cycle"] == runs[0]["cycles_done"] >= interrupted.stopped_at["l2r-seed0"]
    # random was killed and requeued by Slurm and started again (any cycle it finished before the kill is kept)
    logs = interrupted.out / "jobs" / f"{interrupted.tasks['random-seed0']}_0_log"
    assert "DUE TO JOB REQUEUE" in logs.with_suffix(".err").read_text()
    assert logs.with_suffix(".out").read_text().count("Starting with JobEnvironment") == 2


@pytest.mark.slurm
@pytest.mark.slow
def test_second_submission_leaves_the_live_tasks_alone(interrupted):
    stdout = interrupted.waited.stdout
    held = re.search(r"^2 slice\(s\) with a task still queued or running, not submitted again: (.*)", stdout,
                     re.MULTILINE).group(1)
    assert f"l2r-seed0 (task {interrupted.tasks['l2r-seed0']})" in held
    assert f"random-seed0 (task {interrupted.tasks['random-seed0']})" in held
    assert re.search(r"submitted job \d+: 1 task\(s\)", stdout), stdout  # entropy again, nothing else
    assert "cifar10-ci: 2/3 slices done, 14/21 cycles; 0 running, 0 queued" in stdout


@pytest.mark.slurm
@pytest.mark.slow
def test_failed_task_is_reported_with_its_log_and_the_others_finish(interrupted):
    waited = interrupted.waited
    assert waited.returncode == 1
    failure = re.search(r"failed: entropy-seed0 \(task (\S+)\): (.*)\n  log: (\S+)", waited.stderr)
    assert failure, waited.stderr
    assert "UnpicklingError" in failure.group(2)
    log = failure.group(3)
    assert log.endswith(f"jobs/{failure.group(1)}_0_log.err") and "UnpicklingError" in open(log).read()
    table = pd.read_csv(interrupted.out / "results.csv")
    assert sorted(table.method.unique()) == ["l2r", "random"]


@pytest.mark.slurm
@pytest.mark.slow
def test_partly_finished_study_renders_with_the_missing_slice_marked(interrupted, tmp_path):
    executed = tmp_path / "cifar10.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "cifar10.ipynb"), str(executed), cwd=str(ROOT),
                               kernel_name="python3", progress_bar=False,
                               parameters={"params_path": str(interrupted.params_file), "device": "cpu",
                                           "out_dir": str(interrupted.out), "collect": True})
    stdout = "".join(o.text for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"
                     for o in c.outputs if o.output_type == "stream" and o.name == "stdout")
    assert "INCOMPLETE: 1 of 3 slices unfinished" in stdout
    assert re.search(r"entropy\s+0\s+0/7\s+failed: .*UnpicklingError", stdout), stdout
    assert (interrupted.out / "figures" / "fig4_accuracy.png").is_file()
