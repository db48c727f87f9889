"""A study run where a committed copy of it lies (outputs/<study> tracked by git: a fresh clone, `make
<experiment> PROFILE=smoke`) is a reproduction: it says at its start what it will compute and how to get the
committed study back, runs on a CPU with the thread count the committed rows were computed with (their
numbers depend on it) unless OMP_NUM_THREADS names one, and ends with how its rows compare with the
committed ones, per method, its last line the verdict and why they differ where they do (the numerics
fingerprints, provenance.fingerprint). `run_and_compare` does all of it around a run (running.run, the CLI's
and the notebooks' one run path); `verdict_lines` says the verdict again afterwards (`python -m l2ral_lib compare`).

The committed study is read from git (`git show HEAD:<out>/results.csv`), captured before the run
rewrites the folder, so a reproduction interrupted and resumed compares against the same study.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from .config import Params
from .devices import cpu_threads, resolve_device
from .outputs import StudyFolder
from .provenance import (FINGERPRINT_KEYS, computing_runs, describe_differences, distinct, fingerprint_differences,
                         recorded_cpu_threads, run_fingerprint, unrecorded)
from .report.stats import Grid, per_seed
from .study_folder import MACHINE_METRICS, StudyLayout, same_values, slice_name, study_slices


def _git(folder: Path, *args: str) -> str | None:
    """stdout of a git command run in `folder`, or None where it fails (no git, not a repository, not tracked)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@dataclass
class Committed:
    """The study as committed at HEAD of the git repository that holds its folder."""

    out_dir: Path
    pathspec: str  # the folder relative to the repository's top: what `git checkout --` restores
    results: pd.DataFrame
    runs: list[dict] = field(default_factory=list)  # every slice's recorded runs, as committed

    @property
    def restore(self) -> str:
        return f"git checkout -- {self.pathspec} && git clean -fdX -- {self.pathspec}"


def committed_study(out_dir: str | Path) -> Committed | None:
    """The committed copy of the study in `out_dir`, or None where its results.csv is not tracked."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    here = StudyLayout(".")  # the study's files relative to its folder, where git runs
    results = _git(out_dir, "show", f"HEAD:./{here.results_file.as_posix()}")
    top = _git(out_dir, "rev-parse", "--show-toplevel")
    if results is None or top is None:
        return None
    provenance = json.loads(_git(out_dir, "show", f"HEAD:./{here.provenance_file.as_posix()}") or '{"slices": {}}')
    runs = [run for entries in provenance.get("slices", {}).values() for run in entries]
    return Committed(out_dir, os.path.relpath(out_dir.resolve(), Path(top.strip()).resolve()),
                     pd.read_csv(io.StringIO(results)), runs)


def start_line(committed: Committed, study: str, slices: list[tuple[str, int]], n_cycles: int) -> str:
    """What this run will compute, said before it computes: slices whose rows are committed but whose
    state (state.pt, never committed) is not are computed again."""
    folder = StudyFolder(committed.out_dir)
    todo = [s for s in slices if folder.slice(*s).cycles_saved() < n_cycles]
    shipped = {slice_name(m, s) for m, s in committed.results[["method", "seed"]].drop_duplicates().itertuples(index=False)}
    recomputed = sum(slice_name(*s) in shipped and folder.slice(*s).cycles_saved() == 0 for s in todo)
    why = f" ({recomputed} of them with their rows committed but not their state)" if recomputed else ""
    return (f"{study}: {len(todo)} of {len(slices)} slices to compute{why}; the committed results will be"
            f" compared when done; restore the committed study with `{committed.restore}`"
            f" (make restore STUDY={committed.pathspec})")


def threads_line(committed: Committed, device: str, environ=os.environ) -> tuple[int | None, str]:
    """The torch thread count a reproduction runs on and the line that says so: on a CPU, the one the
    committed rows were computed with (the numbers depend on it), unless OMP_NUM_THREADS names one (then
    that is the run's, and a difference is announced by loop.warn_fingerprint_mismatch). (None, '') where
    there is nothing to choose: OMP_NUM_THREADS set, a GPU run, no committed row computed on a CPU."""
    if environ.get("OMP_NUM_THREADS") or resolve_device(device).type != "cpu":
        return None, ""
    recorded = recorded_cpu_threads(committed.runs)
    if len(recorded) > 1:
        return None, (f"threads: torch's {torch.get_num_threads()}; the committed rows were computed on"
                      f" {', '.join(map(str, sorted(recorded)))} threads, so no one count repeats them all"
                      " (OMP_NUM_THREADS=<n> sets one)")
    if recorded:
        count = next(iter(recorded))
        return count, (f"threads: {count}, as the committed rows were computed (OMP_NUM_THREADS=<n> sets another;"
                       f" this machine's default is {torch.get_num_threads()})")
    return None, ""


def run_and_compare(params: Params, device: str, out_dir: str | Path,
                    compute: Callable[[], tuple[int, pd.DataFrame | None]], only: list[tuple[str, int]] | None = None,
                    say: Callable[[str], None] = lambda line: print(line, flush=True)) -> tuple[int, pd.DataFrame | None]:
    """`compute()` runs the study (here, or through the --jobs workers) and returns its exit status and
    results table (None where it failed). Where `out_dir` holds a study committed to git, the run is a
    reproduction: first what it will compute, then (on a CPU) the thread count it runs on, and when
    `compute` succeeded the per-method comparison and, last, the verdict. Elsewhere `compute()` alone.
    Returns what `compute` returned."""
    committed = committed_study(out_dir)  # captured before the run rewrites the folder
    if committed is None:
        return compute()
    say(start_line(committed, params.study, study_slices(params, only), params.n_cycles))
    count, line = threads_line(committed, device)
    if line:
        say(line)
    with cpu_threads(count):
        status, table = compute()
    if table is not None:
        say("\n".join(compare(committed, table).lines()))
    return status, table


def verdict_lines(out_dir: str | Path) -> list[str]:
    """The study now in `out_dir` against its committed copy: `Comparison.lines`, the verdict last; one line
    where the folder holds no study committed to git."""
    committed = committed_study(out_dir)
    if committed is None:
        return [f"{out_dir}: no study committed to git there, so no reproduction to compare"]
    return compare(committed).lines()


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table.metric.str.startswith(MACHINE_METRICS)]


@dataclass
class Comparison:
    """This run's rows against the committed ones."""

    headline: str  # 'identical to the last digit ...' or 'differs ...'
    why: str  # the fingerprints, where they explain a difference
    methods: pd.DataFrame  # per method and metric: final-cycle and AUBC means, committed and now, and differences

    def lines(self) -> list[str]:
        """The per-method table, then the verdict and why: the last line, so that it ends a run's log."""
        table = self.methods.to_string(index=False, float_format=lambda v: f"{v:.4g}") if len(self.methods) else ""
        heading = "reproduction, per method and metric (final cycle and AUBC: committed, now, difference):"
        return [*([heading, table] if table else []),
                f"reproduction: {self.headline}" + (f"; {self.why}" if self.why else "")]


def compare(committed: Committed, table: pd.DataFrame | None = None) -> Comparison:
    """Compare the study now in the folder (or `table`) with the committed one, over the slices both have."""
    table = StudyFolder(committed.out_dir).results() if table is None else table
    keys = ["method", "seed", "cycle", "metric"]
    old, new = _comparable(committed.results), _comparable(table)
    both = old.merge(new, on=keys, suffixes=("_committed", "_now"))
    differ = both[~same_values(both.value_committed, both.value_now)]
    if not len(both):
        return Comparison("nothing to compare: this run and the committed study share no slice", "", pd.DataFrame())
    if differ.empty:
        headline = f"identical to the last digit: all {len(both)} comparable rows (timings aside) equal the committed ones"
    else:
        gap = (differ.value_now - differ.value_committed).abs().fillna(float("inf"))  # a value against a NaN
        worst = differ.loc[gap.idxmax()]
        headline = (f"differs: {len(differ)} of {len(both)} comparable rows, the largest by {gap.max():.4g}"
                    f" ({worst.metric} of {worst.method} seed {worst.seed} cycle {worst.cycle}:"
                    f" committed {float(worst.value_committed)!r}, now {float(worst.value_now)!r})")
    why = "" if differ.empty else explain(committed)
    return Comparison(headline, why, per_method(old, new, both))


def explain(committed: Committed) -> str:
    """Why rows differ: the fingerprints of the committed rows against those of this reproduction's runs
    (the runs recorded in the folder now that the committed provenance does not hold)."""
    shipped = {json.dumps(run, sort_keys=True) for run in committed.runs}
    folder = StudyFolder(committed.out_dir)
    mine = [run for run in computing_runs(folder.slices()) if json.dumps(run, sort_keys=True) not in shipped]
    old = distinct(run_fingerprint(run) for run in committed.runs if run["cycles_done"] > run["first_cycle"])
    differ, described, unknown = {}, [], set()
    for now in distinct(run_fingerprint(run) for run in mine):
        keys = fingerprint_differences(old, now)
        differ.update(keys)
        described.append(describe_differences(keys, now, "the committed rows'"))
        unknown |= set(unrecorded(old, now))
    lacking = f"; the committed rows do not record their {', '.join(sorted(unknown, key=FINGERPRINT_KEYS.index))}" if unknown else ""
    if differ:
        return f"why: expected, the fingerprint differs in {'; '.join(d for d in described if d)}{lacking}"
    if unknown:
        return f"why: cannot be told{lacking}, so a different machine may explain it"
    return ("why: not the fingerprint (it matches the committed rows'): the code or its inputs changed since the"
            " commit, or a computation is not deterministic")


def per_method(old: pd.DataFrame, new: pd.DataFrame, both: pd.DataFrame) -> pd.DataFrame:
    """Per method and metric: final-cycle value and AUBC (report.stats), mean over the seeds both have,
    committed and now, and their difference."""
    frames = []
    shared = both[["method", "seed"]].drop_duplicates()
    for metric in sorted(both.metric.unique()):
        grid = Grid.of(old, metric)
        quantities = [per_seed(t.merge(shared, on=["method", "seed"]), metric, grid).assign(source=source)
                      for t, source in ((old, "committed"), (new, "now"))]
        # groupby, not pivot_table: a quantity that is NaN (a Spearman against constant scores) stays a row
        wide = pd.concat(quantities).groupby(["method", "quantity", "source"]).value.mean().unstack("source")
        if {"committed", "now"} <= set(wide.columns):
            frames.append(wide.assign(metric=metric).reset_index())
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    table = table.set_index(["method", "metric", "quantity"])[["committed", "now"]].unstack("quantity").reset_index()
    table.columns = [f"{quantity}_{source}" if quantity else source for source, quantity in table.columns]
    for quantity in ("final", "aubc"):
        if f"{quantity}_now" in table:
            table[f"{quantity}_diff"] = table[f"{quantity}_now"] - table[f"{quantity}_committed"]
    order = [c for q in ("final", "aubc") for c in (f"{q}_committed", f"{q}_now", f"{q}_diff") if c in table]
    return table[["method", "metric", *order]]
