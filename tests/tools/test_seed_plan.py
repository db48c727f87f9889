"""experiments/seed_plan.py as a user runs it: the plan of a hand-made study, one row per reference, the
seeds needed from the report's rule (report.claims.seed_plan, tested against hand computations there)."""
import subprocess
import sys

import json

import numpy as np
import pandas as pd

from helpers import ROOT
from l2ral_lib.report import claims


def write_study(folder, gains: dict):
    """Two cycles; method m's curve is random's plus gains[m][seed] at both: its AUBC gains the same."""
    rows = [dict(dataset="cifar10", method=m, seed=seed, cycle=cycle, n_labeled=100 * (cycle + 1), metric="accuracy",
                 value=50 + 10 * cycle + seed + (gains[m][seed] if m in gains else 0))
            for seed in range(5) for cycle in range(2) for m in ("random", *gains)]
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "params.json").write_text(json.dumps({"study": folder.name, "dataset": "cifar10", "seeds": list(range(5)),
                                                    "initial_labeled": 100, "max_labeled": 200, "query_size": 100,
                                                    "strategies": ["random", *gains]}))


def test_the_script_prints_the_plan_of_each_reference(tmp_path):
    a, b = [1.0, 0.1, 1.4, 0.2, 0.9], [3.0, 2.0, 1.0, 2.6, 2.2]
    write_study(tmp_path / "study", {"a": a, "b": b})
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "seed_plan.py"), str(tmp_path / "study"),
                           "--claimed", "a", "--references", "random", "b", "--effect", "0.5"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("study: a against each reference, AUBC of accuracy, a true difference of 0.5 detected with"
                        " 80 % power at 0.05 / 2")
    needed = claims.seeds_for_power(0.5, np.std(a, ddof=1), 0.025)
    assert lines[3] == f"| random | 5 | {np.mean(a):.2f} | {np.std(a, ddof=1):.2f} | {needed} |"
    assert lines[4].startswith("| b | 5 | ")
    most = max(needed, claims.seeds_for_power(0.5, np.std(np.subtract(a, b), ddof=1), 0.025))
    caps = {"random": needed} if needed < most else {}
    if claims.seeds_for_power(0.5, np.std(np.subtract(a, b), ddof=1), 0.025) < most:
        caps["b"] = claims.seeds_for_power(0.5, np.std(np.subtract(a, b), ddof=1), 0.025)
    assert lines[5] == (f"as params: seeds, {most} of them (the claimed method and every reference needing {most} run"
                        f" on all); strategy_seeds: {{{', '.join(f'{r}: {n}' for r, n in caps.items())}}}")
    assert caps  # the hand-made spreads differ: one reference needs fewer seeds than the other


def test_the_plan_reads_the_pilots_seeds_only_when_asked(tmp_path):
    """--seeds: the plan as the pilot read it, once the study has grown past the pilot."""
    a = [1.0, 0.1, 1.4, 0.2, 0.9]
    write_study(tmp_path / "study", {"a": a})
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "seed_plan.py"), str(tmp_path / "study"),
                           "--claimed", "a", "--references", "random", "--effect", "0.5", "--seeds", "0", "1", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    needed = claims.seeds_for_power(0.5, np.std(a[:3], ddof=1), 0.05)
    assert done.stdout.splitlines()[3] == f"| random | 3 | {np.mean(a[:3]):.2f} | {np.std(a[:3], ddof=1):.2f} | {needed} |"
