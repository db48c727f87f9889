"""Rerun one finished slice of a study from its recorded params and compare it with what is stored:
the check behind "the shipped numbers are what this code computes" (`python -m l2ral_lib verify`).

Exact equality is expected on the numerics fingerprint that computed the slice (provenance.fingerprint:
processor, instruction sets, torch build, device, precision, threads; in its provenance.json): CPU kernels
split their reductions by thread and pick their instructions by processor, so the rerun takes the recorded
thread count (measured: cifar10-smoke's l2r seed 0, computed on 2 threads, rerun on 1, ends its first cycle
at 14.40 % accuracy instead of 21.45 %), and says first whether the rest of its fingerprint matches: where
it does not, a difference is expected and the verdict says so rather than that the code is wrong.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .checks import from_dict
from .devices import cpu_threads, resolve_device
from .errors import ParamsError
from .loop import run_study
from .precision import describe as describe_precision
from .provenance import (computing_runs, describe_differences, fingerprint, fingerprint_differences,
                         recorded_cpu_threads, run_fingerprint, unrecorded)
from .study_folder import MACHINE_METRICS, SliceLayout, StudyLayout

# exit statuses of `verify` (its --help says them): reproduced to the last digit; differs on the slice's
# own fingerprint (the code or its inputs changed); differs where the fingerprint does too (expected)
REPRODUCED, DIFFERS, DIFFERS_EXPECTED = 0, 1, 3


def comparable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a rerun must reproduce exactly: every metric except the timings and memory."""
    keep = ~rows.metric.str.startswith(MACHINE_METRICS)
    return rows[keep].sort_values(["cycle", "metric"], ignore_index=True)[["cycle", "n_labeled", "metric", "value"]]


def differences(stored: SliceLayout, rerun: SliceLayout) -> list[str]:
    """One line per stored row or selection that the rerun does not reproduce to the last digit."""
    merged = comparable_rows(stored.rows()).merge(comparable_rows(rerun.rows()), on=["cycle", "n_labeled", "metric"],
                                                 how="outer", suffixes=("_stored", "_rerun"), indicator="found")
    lines = [f"cycle {r.cycle} ({r.n_labeled} labeled) {r.metric}: stored {r.value_stored!r}, rerun {r.value_rerun!r}"
             for r in merged.itertuples() if r.found != "both" or r.value_stored != r.value_rerun]
    picks = [stored.selected(), rerun.selected()]
    lines += [f"cycle {cycle}: selected indices differ" for cycle in sorted(set(picks[0]) | set(picks[1]))
              if picks[0].get(cycle) != picks[1].get(cycle)]
    return lines


@dataclass
class Verdict:
    """What `verify` found: the rows and picks that differ, and the fingerprint keys in which the rerun
    differs from the slice (each with the slice's recorded values)."""

    differences: list[str]
    fingerprint: dict[str, list]
    described: str  # the fingerprint difference in words ('' when it matches)
    unknown: list[str]  # fingerprint keys the slice's record lacks (recorded before fingerprints)

    @property
    def status(self) -> int:
        if not self.differences:
            return REPRODUCED
        return DIFFERS_EXPECTED if self.fingerprint else DIFFERS

    def conclusion(self) -> str:
        if not self.differences:
            return "reproduced exactly"
        if self.fingerprint:
            return f"differs, expected: fingerprint differs in {', '.join(self.fingerprint)}"
        if self.unknown:
            return (f"differs; the slice does not record its {', '.join(self.unknown)}: whether the machine explains"
                    " it cannot be told (recompute the slice on the current code to record them)")
        return "differs on the slice's own fingerprint: the code or its inputs changed since it was computed"


def fingerprint_line(differ: dict[str, list], described: str, unknown: list[str] = ()) -> str:
    if differ:
        return f"fingerprint differs from the slice's in {described}: a difference in the rows is expected"
    if unknown:
        return f"fingerprint matches the slice's where it records one; it does not record its {', '.join(unknown)}"
    return "fingerprint matches the slice's (processor, instruction sets, torch build, device, precision, threads)"


def recorded_threads(runs: list[dict], stored: SliceLayout, device: str):
    """Run on the torch thread count that computed the slice (CPU), restoring the caller's after."""
    threads = recorded_cpu_threads(runs)
    if device == "cpu" and len(threads) > 1:
        raise ParamsError("verify", f"{stored.path} was computed on {sorted(threads)} torch threads (a resumed slice):"
                                    " no single rerun reproduces it")
    return cpu_threads(threads.pop() if device == "cpu" and threads else None)


def verify_slice(out_dir: str | Path, method: str, seed: int, device: str = "cpu",
                 scratch: str | Path | None = None, say=lambda line: None) -> Verdict:
    """Rerun slice (method, seed) of the study in `out_dir` from its params.json, in `scratch` (a
    temporary folder by default), and compare. `say` hears first whether the fingerprint matches."""
    study = StudyLayout(out_dir)
    stored = study.slice(method, seed)
    for needed in (study.params_file, stored.rows_file, stored.selected_file):
        if not needed.is_file():
            raise ParamsError("verify", f"{needed} not found: name a study folder and one of its finished slices")
    params = from_dict({**study.params(), "strategies": [method], "seeds": [seed]})
    runs = computing_runs([stored.path])
    with recorded_threads(runs, stored, device):
        resolved = resolve_device(device)
        now = fingerprint(resolved, describe_precision(params, resolved))
        recorded = [run_fingerprint(run) for run in runs]
        differ, unknown = fingerprint_differences(recorded, now), unrecorded(recorded, now)
        described = describe_differences(differ, now, "the slice's")
        say(fingerprint_line(differ, described, unknown))
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            run_study(params, device, folder, progress=False)  # params of this one slice
            return Verdict(differences(stored, StudyLayout(folder).slice(method, seed)), differ, described, unknown)
