"""The GPU proof run: the CIFAR-10 paper profile, one seed, every method, detached from the shell.

    python tools/paper_proof.py start [--params P] [--seed 0] [--device cuda] [--jobs 1] [--out DIR] [--set k=v]
    python tools/paper_proof.py status [--out DIR]

`start` launches `python -m l2ral_lib run` in its own session (it survives the shell and the ssh
connection that started it; its output goes to DIR/paper-proof.log) and returns at once; started
again, it resumes the study from its last finished cycle, or says the run is still going.
`status` prints the finished (method, seed, cycle)s, the training throughput (images/s per process and
in total), the peak GPU memory and an estimate of the time left, and writes the same as
DIR/throughput.json. `make paper-proof` / `make paper-proof-status` call these; the tests run the same
script on the ci profile on the CPU (the dry run).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from l2ral_lib.checks import from_dict
from l2ral_lib.paths import PROJECT_ROOT
from l2ral_lib.study_folder import study_slices


def running_pid(out: Path) -> int | None:
    """The pid of a proof run still alive in `out`, if any."""
    pid_file = out / "paper-proof.pid"
    if not pid_file.is_file():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # a zombie child of this very process (tests) is no longer running
    state = Path(f"/proc/{pid}/stat")
    return None if state.is_file() and state.read_text().split()[2] == "Z" else pid


def start(args) -> int:
    out = Path(args.out)
    pid = running_pid(out)
    if pid:
        print(f"a proof run is still going in {out} (pid {pid}); `make paper-proof-status` shows how far it is")
        return 0
    sets = [f"--set=seeds=[{args.seed}]", *[f"--set={item}" for item in args.set]]
    command = [sys.executable, "-m", "l2ral_lib", "run", args.params, "--device", args.device, "--out", str(out),
               "--jobs", str(args.jobs), "--no-progress", *sets]
    check = subprocess.run([sys.executable, "-m", "l2ral_lib", "check", args.params, *sets], cwd=PROJECT_ROOT,
                           capture_output=True, text=True)
    if check.returncode:
        print(check.stderr.strip(), file=sys.stderr)
        return check.returncode
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "paper-proof.log", "a") as log:
        log.write(f"== {datetime.now().isoformat(timespec='seconds')} {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    (out / "paper-proof.pid").write_text(str(process.pid))
    print(f"started pid {process.pid}: {' '.join(command)}\nlog: {out / 'paper-proof.log'};"
          f" progress: make paper-proof-status OUT={out}")
    return 0


def throughput(out: Path) -> dict:
    """Throughput and progress of the study in `out`, from its slices' rows and provenance."""
    params = load_params_json(out)
    frames = [pd.read_csv(f) for f in sorted(out.glob("slices/*/rows.csv"))]
    rows = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    total_cycles = len(study_slices(params)) * params.n_cycles
    report = {"cycles_done": 0, "cycles_total": total_cycles, "running_pid": running_pid(out)}
    if rows is None:
        return report
    train = rows[rows.metric == "time_train_s"]
    images = (train.n_labeled * params.epochs).sum()
    runs = [run for f in out.glob("slices/*/provenance.json") for run in json.loads(f.read_text())["runs"]]
    stamps = [datetime.fromisoformat(run[key]) for run in runs for key in ("started", "finished") if run[key]]
    wall = (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0
    per_process = images / train.value.sum()
    done = set(zip(train.method, train.seed, train.cycle))
    total = images / wall if wall else per_process  # all processes together (JOBS > 1 run slices in parallel)
    left = seconds_left(rows, params, done)
    memory = rows[rows.metric == "gpu_peak_memory_gib"].value
    report.update(cycles_done=len(done), images_trained=int(images),
                  images_per_s_per_process=round(per_process, 1),
                  images_per_s_total=round(total, 1),
                  gpu_peak_memory_gib=round(memory.max(), 2) if len(memory) else None,
                  hours_left=round(sum(left.values()) / max(1.0, total / per_process) / 3600, 2),
                  hours_left_by_method={m: round(v / 3600, 2) for m, v in left.items()},
                  slices={f"{m}-seed{s}": int((train.method == m).mul(train.seed == s).sum())
                          for m, s in study_slices(params)})
    return report


def cost_model(rows: pd.DataFrame, params) -> dict[str, tuple[float, float]]:
    """Per method, from its measured cycles: (seconds of training per image-epoch, seconds of everything
    else per queried cycle: scoring, VAAL's fit, k-center...). Cost is not proportional to images alone:
    VAAL's fit is a fixed iteration count per cycle, an L2R step costs several plain ones. A method not
    measured yet takes the costliest measured method's figures (an upper bound until it has run)."""
    times = rows[rows.metric.str.startswith("time_")]
    model = {}
    for method, own in times.groupby("method"):
        train = own[own.metric == "time_train_s"]
        other = own[own.metric != "time_train_s"].groupby(["seed", "cycle"]).value.sum()
        queried = train[train.cycle < params.n_cycles - 1]
        model[method] = (train.value.sum() / max(1, (train.n_labeled * params.epochs).sum()),
                         other.sum() / max(1, len(queried)))
    if model:
        worst = (max(rate for rate, _ in model.values()), max(fixed for _, fixed in model.values()))
        model.update({m: worst for m in params.strategies if m not in model})
    return model


def seconds_left(rows: pd.DataFrame, params, done: set) -> dict[str, float]:
    """Seconds of one process per method for the (method, seed, cycle)s not in `done`, by cost_model."""
    model = cost_model(rows, params)
    return {m: sum(model[m][0] * params.labeled_at(c) * params.epochs + (model[m][1] if c < params.n_cycles - 1 else 0)
                   for s in params.seeds_of(m) for c in range(params.n_cycles) if (m, s, c) not in done)
            for m in params.strategies}


def load_params_json(out: Path):
    """The study's resolved params (params.json is written before the first cycle trains)."""
    return from_dict(json.loads((out / "params.json").read_text()))


def status(args) -> int:
    out = Path(args.out)
    if not (out / "params.json").is_file():
        print(f"no study in {out} yet; start one with `make paper-proof`", file=sys.stderr)
        return 2
    report = throughput(out)
    (out / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    state = f"running (pid {report['running_pid']})" if report["running_pid"] else "not running"
    print(f"{out}: {state}; {report['cycles_done']}/{report['cycles_total']} cycles finished")
    for key in ("images_per_s_per_process", "images_per_s_total", "gpu_peak_memory_gib", "hours_left"):
        if key in report:
            print(f"  {key}: {report[key]}")
    for name, cycles in report.get("slices", {}).items():
        print(f"  {name}: {cycles} cycles")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("start", help="start or resume the proof run, detached")
    go.add_argument("--params", default="params/cifar10-paper.yaml")
    go.add_argument("--seed", type=int, default=0)
    go.add_argument("--device", default="cuda")
    go.add_argument("--jobs", type=int, default=1, help="slices at once on the one GPU")
    go.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    go.add_argument("--out", default="outputs/cifar10-paper")
    look = commands.add_parser("status", help="finished cycles, images/s, GPU memory, time left")
    look.add_argument("--out", default="outputs/cifar10-paper")
    args = parser.parse_args(argv)
    return start(args) if args.command == "start" else status(args)


if __name__ == "__main__":
    sys.exit(main())
