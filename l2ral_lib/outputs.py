"""Computing's side of a study's output folder (its layout: study_folder.py): `StudyFolder` guards it,
records the params, copies finished slices from another study and merges the slices' rows; each slice's
`SliceFolder` holds its lock and saves its cycles.

Every write is atomic (files.py). A run computes a slice only while it holds the slice's lock, so two runs
of one study (a second terminal, `--jobs` workers, Slurm tasks) never compute a slice twice; the OS releases
the lock of a killed run, which never blocks the next one. A run opens its folder in two calls: `refuse`, before
the data is loaded and writing nothing, refuses params that differ from those recorded (results of two settings
must never mix) and a reuse source run with other params; `open`, once every check has passed, copies the
reused slices and records the params.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import time
from pathlib import Path

import pandas as pd
import torch

from .config import Params, as_recorded
from .errors import ParamsError
from .files import atomic_torch_save, atomic_write_json, atomic_write_text
from .provenance import computing_runs, run_fingerprint, study_provenance
from .study_folder import RESULT_COLUMNS, SliceLayout, StudyLayout, slice_name, study_slices

# where the data lies, where the slices run, or which study finished slices were copied from, changes no
# result: a study may resume with the data moved or on a cluster
IGNORED_PARAMS = {"data_root", "download", "reuse_from", "cluster"}
# a slice's results do not depend on which other slices the study has: a rerun may add seeds or strategies
# (a one-seed proof run first, the other seeds later; new baselines beside finished ones), or change how
# many seeds a strategy runs on (the last run's strategy_seeds is the study's plan)
GROWING_PARAMS = ("seeds", "strategies")
PLAN_PARAMS = ("strategy_seeds",)

log = logging.getLogger(__name__)


def changed_params(recorded: dict, params: Params, ignored=frozenset()) -> list[str]:
    """Keys in which `params` differ from a recorded params.json (read as config.as_recorded reads a record),
    beside those that change no slice."""
    recorded, current = as_recorded(recorded), params.to_dict()
    skip = IGNORED_PARAMS | set(GROWING_PARAMS) | set(PLAN_PARAMS) | set(ignored)
    return sorted(k for k in (set(recorded) | set(current)) - skip if recorded.get(k) != current.get(k))


class SliceFolder(SliceLayout):
    """slices/<method>-seed<k>/ as a run computes it: the lock, the state after the last finished cycle and
    its readable views."""

    @contextlib.contextmanager
    def lock(self):
        """Hold the slice exclusively while computing it: yields True, or False at once where another
        process holds it (see `holder`). flock, so a killed holder's lock goes with its process."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            # who holds it, for the others' message (the file is rewritten by each holder; never the truth)
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}".encode())
            yield True
        finally:
            os.close(fd)  # releases the lock

    def holder(self) -> str:
        """Which process holds the lock, as it wrote it ('pid 123 on host since 12:00:01')."""
        try:
            return self.lock_file.read_text().strip() or "a process starting"
        except FileNotFoundError:
            return "nobody"

    def cycles_saved(self) -> int:
        """Cycles the slice's state holds, as its readable view says; 0 without state.pt: rows committed
        without their state (a shipped study) are computed again."""
        return self.cycles_in_view() if self.state_file.is_file() else 0

    def load_state(self, device: torch.device) -> dict | None:
        """The state saved after the last finished cycle, or None for a slice not started."""
        if not self.state_file.is_file():
            return None
        return torch.load(self.state_file, map_location=device, weights_only=False)

    def save_cycle(self, state: dict) -> None:
        """Save a finished cycle: the state (model, strategy, labeled set, rows, picks) first, then its views."""
        atomic_torch_save(self.state_file, state)
        self.write_views(state["rows"], state["selected"])

    def write_views(self, rows: list[dict], selected: dict) -> None:
        """Readable copies of the slice state (state.pt stays the truth; a kill between the two
        writes is repaired when the slice is next opened)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.rows_file, pd.DataFrame(rows, columns=RESULT_COLUMNS).to_csv(index=False))
        atomic_write_json(self.selected_file, selected)

    def write_test_items(self, items: pd.DataFrame) -> None:
        """The final model's per-test-item values (training.test_items), written before the last cycle's state."""
        atomic_write_text(self.test_items_file, items.to_csv(index=False))


class StudyFolder(StudyLayout):
    """The output folder of one study as runs write it: its guard, params record, reuse and merged tables."""

    slice_class = SliceFolder

    def fingerprints_used(self) -> list[dict]:
        """The numerics fingerprint of every run that computed cycles of this study's slices."""
        return [run_fingerprint(run) for run in computing_runs(self.slices())]

    def refuse(self, params: Params) -> None:
        """Every refusal before the data is loaded, writing nothing: the guard, and where `params.reuse_from`
        names a study beside this one, that its slices would be this study's."""
        self.guard(params)
        source = self.reuse_source(params)
        if source is not None:
            source.check_reusable(params)
        elif params.reuse_from:
            log.info("%s: reuse_from %s not found; every slice is computed here", params.study,
                     self.path.parent / params.reuse_from)

    def open(self, params: Params, only: list[tuple[str, int]] | None = None) -> list[tuple[str, int]]:
        """Once every check has passed: copy the finished slices of the study `params.reuse_from` names (not
        recomputed), then record the params. -> the slices this run computes (`only`, or all of them)."""
        record = self.params_record(params, only)
        source = self.reuse_source(params)
        if source is not None:
            copied = self.copy_finished(source, params)
            log.info("%s: %d finished slices copied from %s", params.study, len(copied), source.path)
        if record is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.params_file, record)
        return study_slices(params, only)

    def reuse_source(self, params: Params) -> StudyFolder | None:
        """The study beside this one that `params.reuse_from` names, where it exists."""
        source = StudyFolder(self.path.parent / params.reuse_from) if params.reuse_from else None
        return source if source is not None and source.path.exists() else None

    def guard(self, params: Params) -> None:
        """Refuse a folder that holds a study run with other params (results of two settings must
        never mix), or one that cannot be written. Writes nothing: runs before the data is loaded."""
        existing = next(parent for parent in [self.path, *self.path.parents] if parent.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ParamsError("out", f"cannot write to {self.path} ({existing} is not a writable folder); choose another --out")
        if self.has_study():
            changed = changed_params(self.params(), params)
            if changed:
                raise ParamsError("out", f"{self.path} holds a study with other params (changed: {', '.join(changed)});"
                                         " use another --out, or delete the folder to start over")

    def check_reusable(self, params: Params) -> None:
        """This folder's finished slices may be copied into a study with `params`: same params but for the
        study's name, seeds and strategies (cifar10-ablations reusing cifar10-smoke's six methods)."""
        if not self.has_study():
            raise ParamsError("reuse_from", f"{self.params_file} not found: {self.path} holds no study; run it first"
                                            " or set null")
        changed = changed_params(self.params(), params, ignored={"study"})
        if changed:
            raise ParamsError("reuse_from", f"{self.path} ran with other params (changed: {', '.join(changed)}); its"
                                            " slices would not be this study's")

    def copy_finished(self, source: StudyFolder, params: Params) -> list[str]:
        """Copy every finished slice of `source` that this study (`params`) has and has not started (after
        `source.check_reusable`); the copy's provenance.json says where it came from. -> the names copied."""
        copied = []
        for name in [slice_name(*s) for s in study_slices(params)]:
            origin, target = source.slice_class(source.slices_dir / name), self.slice_class(self.slices_dir / name)
            if target.path.exists() or origin.cycles_in_view() < params.n_cycles:
                continue
            partial = SliceLayout(target.path.with_name(f".{name}.partial"))
            shutil.rmtree(partial.path, ignore_errors=True)
            # without the source's runs' lock
            shutil.copytree(origin.path, partial.path, ignore=shutil.ignore_patterns(origin.lock_file.name))
            atomic_write_json(partial.provenance_file, {**partial.provenance(), "copied_from": str(origin.path)})
            partial.path.rename(target.path)
            copied.append(name)
        return copied

    def params_record(self, params: Params, only: list[tuple[str, int]] | None = None) -> dict | None:
        """The params.json to write for a run with `params` (computing `only`, where given): the resolved
        params, seeds and strategies accumulated over the runs that shared the folder (in the order first
        seen), a seed that only `only` names among them (`run --only random:10` grows the study by seed 10),
        and this run's strategy_seeds; None where the record holds them already."""
        record = params.to_dict()
        record["seeds"] = list(dict.fromkeys([*record["seeds"], *(seed for _, seed in only or [])]))
        if self.has_study():
            previous = self.params()
            record = {**previous, **{key: previous[key] + [v for v in record[key] if v not in previous[key]]
                                     for key in GROWING_PARAMS}, **{key: record[key] for key in PLAN_PARAMS}}
            if record == previous:
                return None
        return record

    def merge(self) -> pd.DataFrame:
        """results.csv = the rows of every slice (any process may have written them); provenance.json =
        the runs that computed them."""
        table = self.slice_rows().sort_values(["method", "seed", "cycle", "metric"], kind="stable", ignore_index=True)
        atomic_write_text(self.results_file, table.to_csv(index=False))
        atomic_write_json(self.provenance_file, study_provenance(self.slices()))
        return table


def merge_results(out_dir: str | Path) -> pd.DataFrame:
    """Rebuild results.csv and provenance.json of the study in `out_dir` (`python -m l2ral_lib merge`)."""
    return StudyFolder(out_dir).merge()


def load_selected(out_dir: str | Path, method: str, seed: int) -> dict[int, list[int]]:
    """Pool indices labeled at each cycle (0 = the initial set) of one slice of the study in `out_dir`."""
    return StudyFolder(out_dir).slice(method, seed).selected()
