"""Rerun one finished slice of a study from its recorded params and compare it with what is stored:
the check behind "the shipped numbers are what this code computes" (`python -m l2ral_lib verify`).

Exact equality is expected on the machine type that computed the slice, and on its torch thread count
(both in its provenance.json): CPU kernels split their reductions by thread, so the rerun takes the
recorded count (measured: cifar10-smoke's l2r seed 0, computed on 2 threads, rerun on 1, ends its first
cycle at 14.40 % accuracy instead of 21.45 %).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import torch

from .checks import from_dict
from .errors import ParamsError
from .loop import run_study
from .outputs import StudyFolder
from .provenance import cpu_threads_used

# measurements of the machine, not of the method: they differ on every run
MACHINE_METRICS = ("time_", "gpu_peak_memory_gib")


def comparable_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a rerun must reproduce exactly: every metric except the timings and memory."""
    keep = ~rows.metric.str.startswith(MACHINE_METRICS)
    return rows[keep].sort_values(["cycle", "metric"], ignore_index=True)[["cycle", "n_labeled", "metric", "value"]]


def differences(stored_dir: Path, rerun_dir: Path) -> list[str]:
    """One line per stored row or selection that the rerun does not reproduce to the last digit."""
    stored, rerun = (comparable_rows(pd.read_csv(d / "rows.csv")) for d in (stored_dir, rerun_dir))
    merged = stored.merge(rerun, on=["cycle", "n_labeled", "metric"], how="outer", suffixes=("_stored", "_rerun"),
                          indicator="found")
    lines = [f"cycle {r.cycle} ({r.n_labeled} labeled) {r.metric}: stored {r.value_stored!r}, rerun {r.value_rerun!r}"
             for r in merged.itertuples() if r.found != "both" or r.value_stored != r.value_rerun]
    picks = [json.loads((d / "selected.json").read_text()) for d in (stored_dir, rerun_dir)]
    lines += [f"cycle {cycle}: selected indices differ" for cycle in sorted(set(picks[0]) | set(picks[1]), key=int)
              if picks[0].get(cycle) != picks[1].get(cycle)]
    return lines


def verify_slice(out_dir: str | Path, method: str, seed: int, device: str = "cpu",
                 scratch: str | Path | None = None) -> list[str]:
    """Rerun slice (method, seed) of the study in `out_dir` from its params.json, in `scratch` (a
    temporary folder by default), and return the differences (empty: reproduced exactly)."""
    out_dir = Path(out_dir)
    stored = StudyFolder(out_dir).slice(method, seed).path
    for needed in (out_dir / "params.json", stored / "rows.csv", stored / "selected.json"):
        if not needed.is_file():
            raise ParamsError("verify", f"{needed} not found: name a study folder and one of its finished slices")
    recorded = json.loads((out_dir / "params.json").read_text())
    params = from_dict({**recorded, "strategies": [method], "seeds": [seed]})
    threads, before = cpu_threads_used([stored]), torch.get_num_threads()
    if device == "cpu" and len(threads) > 1:
        raise ParamsError("verify", f"{stored} was computed on {sorted(threads)} torch threads (a resumed slice):"
                                    " no single rerun reproduces it")
    try:
        if device == "cpu" and threads:
            torch.set_num_threads(threads.pop())
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            run_study(params, device, folder, only=[(method, seed)], progress=False)
            return differences(stored, StudyFolder(folder).slice(method, seed).path)
    finally:
        torch.set_num_threads(before)
