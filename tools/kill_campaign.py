"""Kill campaign: SIGKILL a study again and again at random moments, rerun it, compare with an uninterrupted run.

    python tools/kill_campaign.py [--kills 30] [--seed 0] [--params params/cifar10-ci.yaml] [--set k=v ...]
                                       [--out DIR]

The study runs through the CLI with hooks that log the phase it enters (train, evaluate, select,
write) to a file, so each kill is attributed to the phase it interrupted; each kill lands at a random
moment after startup (imports and data loading), within a tenth of an uninterrupted run. By default
the ci profile is lengthened (6 epochs, 5 cycles) so that there is something to interrupt. Every run resumes
the previous one; after `--kills` kills (or when the study finishes first) a last run completes it.
Prints one row per kill and a summary: kills per phase, and whether the final results.csv equals the
reference (measured values identical, no row lost or doubled). Uses a generated CIFAR-like tree, so
it needs no dataset; writes under --out (default: a temporary folder).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from l2ral_lib.paths import PROJECT_ROOT
from l2ral_lib.data.generated import make_image_folder

# Runs the CLI with each phase's entry point wrapped to append the phase name to $PHASE_LOG.
INSTRUMENTED = """
import os, sys
import l2ral_lib.loop as loop
from l2ral_lib.__main__ import main
log = open(os.environ["PHASE_LOG"], "a", buffering=1)
def entering(phase, fn):
    def wrapped(*args, **kwargs):
        log.write(phase + "\\n")
        return fn(*args, **kwargs)
    return wrapped
loop.train_cycle = entering("train", loop.train_cycle)
loop.evaluate = entering("evaluate", loop.evaluate)
loop.Study.query = entering("select", loop.Study.query)
files.atomic_write_bytes = entering("write", files.atomic_write_bytes)
log.write("startup\\n")
sys.exit(main(sys.argv[1:]))
"""


def command(args, out, data_root, instrumented):
    head = ["-c", INSTRUMENTED] if instrumented else ["-m", "l2ral_lib"]
    sets = [f"--set={item}" for item in [f"data_root={data_root}", *args.set]]
    return [sys.executable, *head, "run", str(args.params), "--device", "cpu", "--out", str(out), "--no-progress", *sets]


def cycles_done(out: Path) -> int:
    """Finished (method, seed, cycle) results kept so far."""
    return sum(pd.read_csv(f).drop_duplicates(["cycle"]).shape[0] for f in out.glob("slices/*/rows.csv"))


def measured(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    return table[~table.metric.str.startswith("time_")].reset_index(drop=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=PROJECT_ROOT / "params" / "cifar10-ci.yaml")
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", help="params override k=v (repeatable)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    args.set = args.set or ["epochs=6", "max_labeled=60"]
    work = Path(args.out or tempfile.mkdtemp(prefix="l2ral-kills-"))
    data_root = work / "data"
    if not (data_root / "cifar10").is_dir():
        make_image_folder(data_root / "cifar10")
    start = time.perf_counter()
    subprocess.run(command(args, work / "reference", data_root, False), check=True, cwd=PROJECT_ROOT,
                   stdout=subprocess.DEVNULL)
    reference_s = time.perf_counter() - start
    rng, rows, log = random.Random(args.seed), [], work / "phases.log"
    env = {**os.environ, "PHASE_LOG": str(log)}
    while len(rows) < args.kills:
        log.write_text("")
        process = subprocess.Popen(command(args, work / "killed", data_root, True), cwd=PROJECT_ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None and log.read_text().split()[-1:] in ([], ["startup"]):
            time.sleep(0.05)  # imports and data loading are not worth killing: wait for the study's work
        try:
            process.wait(timeout=rng.uniform(0, reference_s / 10))
            break  # finished before the kill: nothing left to interrupt
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        phases = log.read_text().split()
        rows.append({"kill": len(rows) + 1, "phase": phases[-1] if phases else "startup",
                     "cycles_done": cycles_done(work / "killed")})
    final = subprocess.run(command(args, work / "killed", data_root, False), cwd=PROJECT_ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if final.returncode:
        sys.exit(f"the final rerun failed: {final.stderr.strip().splitlines()[-1]}")
    got, expected = measured(work / "killed" / "results.csv"), measured(work / "reference" / "results.csv")
    doubled = int(got.duplicated(["method", "seed", "cycle", "metric"]).sum())
    identical = got.equals(expected)
    kills = pd.DataFrame(rows)
    print(kills.to_string(index=False))
    print(f"\nreference run {reference_s:.1f} s; {len(kills)} kills by phase:"
          f" {kills.phase.value_counts().to_dict() if len(kills) else {}}")
    print(f"final results: {len(got)} measured rows (reference {len(expected)}), doubled {doubled},"
          f" identical to the uninterrupted run: {identical}")
    sys.exit(0 if identical and not doubled else 1)


if __name__ == "__main__":
    main()
