"""A settings pilot: one method's study under several `--set` variants, as a table of the primary metric per cycle.

    python experiments/pilot.py PARAMS.yaml --out DIR [--method random] [--seeds 0 1]
        --variant 'name: key=value key=value' [--variant ...] [--threads 2]

Each variant is `python -m l2ral_lib run PARAMS --only METHOD:SEED --set ...` into DIR/<name>, one seed
after another, so a stopped pilot resumes where it stopped (finished slices are reused by the study
folder). The table (markdown, on stdout and in DIR/pilot.md) gives, per variant and seed, the metric at
every cycle, the wall seconds and the CPU seconds of that run (CPU seconds are the figure to compare
when other work shared the machine). It is how the CPU profiles' schedules were chosen; their headers
quote its tables.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _variant(text: str) -> tuple[str, list[str]]:
    name, _, settings = text.partition(":")
    if not name.strip() or not _:
        raise argparse.ArgumentTypeError(f"variant {text!r}: write 'name: key=value ...'")
    return name.strip(), settings.split()


def _metric_by_cycle(results: Path, method: str, seed: int) -> dict[int, tuple[int, str, float]]:
    """cycle -> (n_labeled, metric, value) of the study's primary metric (the first metric row of cycle 0)."""
    rows = [r for r in csv.DictReader(results.open()) if r["method"] == method and int(r["seed"]) == seed]
    metric = next(r["metric"] for r in rows if not r["metric"].startswith("time_"))
    return {int(r["cycle"]): (int(r["n_labeled"]), metric, float(r["value"])) for r in rows if r["metric"] == metric}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--method", default="random")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variant", type=_variant, action="append", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    lines = ["| variant | settings | seed | metric by labeled-set size | wall s | CPU s |", "|---|---|---|---|---|---|"]
    for name, settings in args.variant:
        for seed in args.seeds:
            out = args.out / name
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            command = [sys.executable, "-m", "l2ral_lib", "run", args.params, "--only", f"{args.method}:{seed}",
                       "--out", str(out), "--no-progress", "--no-verdict"]
            for setting in settings:
                command += ["--set", setting]
            done = subprocess.run(command, env=env)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if done.returncode:
                lines.append(f"| {name} | {' '.join(settings)} | {seed} | failed (exit {done.returncode}) | | |")
                continue
            curve = _metric_by_cycle(out / "results.csv", args.method, seed)
            points = ", ".join(f"{n}: {v:.2f}" for _, (n, _, v) in sorted(curve.items()))
            metric = next(iter(curve.values()))[1]
            lines.append(f"| {name} | {' '.join(settings)} | {seed} | {metric} {points} | {wall:.0f} | {cpu:.0f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pilot.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
