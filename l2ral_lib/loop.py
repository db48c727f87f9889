"""The active-learning study: for each (method, seed) slice, cycles of train -> evaluate -> query.

The randomness that makes the slices comparable is seeds.py's rule; the checks before training are
checks.py's; the folder a study writes is outputs.py's `StudyFolder`; what ran where is provenance.py's.

Several runs may share a study (a second terminal, `--jobs` workers, Slurm tasks): each takes the slices in
one order (`longest_first`), computes a slice only while it holds its lock, skips those another run
holds, and at the end waits for them, so that every run ends with the whole study merged.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .checks import check_study
from .config import Params
from .data import StudyData
from .devices import resolve_device
from .files import file_sha256
from .models import build_model
from .outputs import StudyFolder
from .paths import pretrained_file
from .precision import configure_backends, describe as describe_precision, uses_channels_last
from .progress import StudyProgress
from .provenance import SliceProvenance, describe_differences, fingerprint, fingerprint_differences
from .seeds import derive_seed, initial_labeled_set, query_subset
from .study_folder import slice_name
from .strategies import QueryContext, get_strategy
from .strategies.loss_head import announce_sorter_training
from .tasks import get_task
from .training import evaluate, train_cycle

log = logging.getLogger(__name__)

# the slices that take longest run first, so that n processes sharing a study end close together (measured
# on the smoke profiles: L2R-AL's variants train a head through the sorter, VAAL a VAE, LL4AL a head)
LONGEST_FIRST = ("l2r", "vaal", "ll4al")


def longest_first(slices: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """`slices` in the order every run of a study takes them: l2r-family, vaal, ll4al, then the rest, each
    group in its given order."""
    def rank(method: str) -> int:
        return next((i for i, family in enumerate(LONGEST_FIRST) if method == family or method.startswith(f"{family}-")),
                    len(LONGEST_FIRST))
    return sorted(slices, key=lambda s: rank(s[0]))


@dataclass
class Study:
    """A loaded study: params, data, task and output folder, shared by its slices."""

    params: Params
    data: StudyData
    device: torch.device
    out_dir: Path
    slices: list[tuple[str, int]]  # (method, seed) of the slices this run computes, where not finished
    progress: bool = True  # per-epoch progress bars
    tracker: StudyProgress | None = None  # one log line per finished cycle
    fingerprint_checked: bool = False  # warn_fingerprint_mismatch ran (once per run, before its first computed cycle)

    @property
    def task(self):
        return get_task(self.data.task)

    def build(self, method: str, seed: int):
        return build_slice(self.params, self.data, self.device, method, seed)

    @property
    def folder(self) -> StudyFolder:
        return StudyFolder(self.out_dir)

    def run_slice(self, method: str, seed: int) -> list[dict]:
        p, folder = self.params, self.folder.slice(method, seed)
        folder.path.mkdir(parents=True, exist_ok=True)
        model, strategy = self.build(method, seed)
        state = folder.load_state(self.device)
        if state is not None:
            model.load_state_dict(state["model"])
            strategy.load_state_dict(state["strategy"])
            labeled, rows, selected = state["labeled"].to(self.device), state["rows"], state["selected"]
            first_cycle = state["cycles_done"]
        else:
            labeled = initial_labeled_set(seed, self.data.n_pool, p.initial_labeled).to(self.device)
            rows, selected, first_cycle = [], {"0": labeled.tolist()}, 0
        folder.write_views(rows, selected)
        if first_cycle < p.n_cycles:
            if not self.fingerprint_checked:
                warn_fingerprint_mismatch(p, self.out_dir, self.device)
                self.fingerprint_checked = True
            record = SliceProvenance(folder.provenance_file, self.device, self.weights_used(strategy), first_cycle,
                                     describe_precision(p, self.device))
        reset_peak_memory(self.device)  # gpu_peak_memory_gib: this slice's peak, not the process's so far
        for cycle in range(first_cycle, p.n_cycles):
            if not p.continue_model and cycle > 0:
                # every cycle trains from the initial weights, the first one after a resume too (the
                # weights loaded from state.pt are the previous cycle's trained ones)
                model, strategy = self.build(method, seed)
            torch.manual_seed(derive_seed(seed, "cycle", cycle))
            timings = {}
            start = time.perf_counter()
            train_cycle(model, strategy, self.data, self.task, labeled, p,
                        where=f"method {method}, seed {seed}, cycle {cycle}", progress=self.progress)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            timings["train"] = time.perf_counter() - start
            # the final model's per-item values come from the same test pass (a counting task's report reads them)
            evaluation = evaluate(model, strategy, self.data, self.task, p,
                                  items=cycle == p.n_cycles - 1 and self.task.records_items)
            metrics = evaluation.metrics
            n_labeled = len(labeled)
            if cycle < p.n_cycles - 1:
                new = self.query(model, strategy, labeled, seed, cycle, timings)
                labeled = torch.cat([labeled, new])
                selected[str(cycle + 1)] = new.tolist()
            if evaluation.items is not None:
                folder.write_test_items(evaluation.items)
            measurements = {**metrics, **{f"time_{phase}_s": value for phase, value in timings.items()}}
            if self.device.type == "cuda":  # what a GPU proof run reports beside images/s
                measurements["gpu_peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2 ** 30
            rows += [dict(dataset=self.data.name, method=method, seed=seed, cycle=cycle, n_labeled=n_labeled,
                          metric=metric, value=float(value)) for metric, value in measurements.items()]
            folder.save_cycle({"model": model.state_dict(), "strategy": strategy.state_dict(), "labeled": labeled.cpu(),
                               "rows": rows, "selected": selected, "cycles_done": cycle + 1})
            record.cycle_done(cycle + 1)
            if self.tracker:
                self.tracker.cycle_done(method, seed, cycle, n_labeled, metrics)
        return rows

    def run_slices(self) -> pd.DataFrame:
        """Compute each of the study's slices not finished, longest first, while holding its lock: a slice
        another run holds is skipped for the next free one; when only held ones are left, wait for them
        (module docstring). Then merge every slice's rows."""
        pending, said = longest_first(self.slices), None
        configure_backends(self.params, self.device)  # before any slice is built; --jobs workers are processes of their own
        self.tracker = StudyProgress(self.params.study, {s: self.folder.slice(*s).cycles_saved() for s in pending},
                                     self.params.n_cycles, (self.task.metric, "spearman"))
        started = time.monotonic()
        while pending:
            for method, seed in pending:
                folder = self.folder.slice(method, seed)
                with folder.lock() as held:
                    if held:
                        pending.remove((method, seed))
                        # another run may have computed some of it since this one started
                        self.tracker.taken(method, seed, folder.cycles_saved())
                        self.run_slice(method, seed)
                        break
            else:  # every pending slice is held by another run
                holders = ", ".join(f"{slice_name(m, s)} ({self.folder.slice(m, s).holder()})" for m, s in pending)
                if holders != said:
                    log.info("%s: %d slice(s) held by another run: %s; waiting for them (rather than stopping) so that"
                             " this command ends with the whole study merged, as asked; Ctrl-C stops waiting, the"
                             " other runs go on", self.params.study, len(pending), holders)
                    said = holders
                # a look every second at first, every 10 s at most: a cycle takes seconds (ci) to minutes
                time.sleep(min(10.0, 1.0 + (time.monotonic() - started) / 30))
        return self.folder.merge()

    def weights_used(self, strategy) -> dict:
        """Files of weights a slice's results depend on, with their hashes (recorded in provenance)."""
        used = strategy.weights_used()
        if self.params.pretrained:
            file = pretrained_file(self.params.pretrained)
            used["pretrained"] = {"file": str(file), "sha256": file_sha256(file)}
        return used

    def query(self, model, strategy, labeled, seed, cycle, timings) -> torch.Tensor:
        """Pool indices of the `query_size` items the strategy picks from this cycle's subset."""
        p = self.params
        subset = query_subset(seed, cycle, labeled, self.data.n_pool, p.subset_size).to(self.device)
        ctx = QueryContext(model=model, data=self.data, task=self.task, params=p, labeled=labeled, subset=subset,
                           timings=timings, seed=derive_seed(seed, "query", cycle))
        return subset[checked_query(strategy, ctx, p.query_size)]


def build_slice(params: Params, data: StudyData, device: torch.device, method: str, seed: int):
    """Model and strategy of a slice, initialised from the seed alone (the model shared by every
    method); the global generator leaves as it came (see the module docstring)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "model"))
        model = build_model(params, data).to(device)
        if uses_channels_last(params, device):
            model = model.to(memory_format=torch.channels_last)
        torch.manual_seed(derive_seed(seed, "head", method))
        strategy = get_strategy(method)(params, get_task(data.task), model, device)
    return model, strategy


def checked_query(strategy, ctx: QueryContext, budget: int) -> torch.Tensor:
    """The strategy's `budget` positions into ctx.subset; a strategy returning another count or a position
    twice is a bug, stopped here."""
    picks = strategy.query(ctx, budget)
    if len(picks) != budget or len(torch.unique(picks)) != len(picks):
        raise RuntimeError(f"strategy {strategy.name} returned {len(picks)} picks ({len(torch.unique(picks))}"
                           f" distinct) for a query of {budget}")
    return picks


def reset_peak_memory(device: torch.device) -> None:
    """Start a slice's GPU peak-memory count afresh (a --jobs worker runs several slices in one process:
    without this, every slice after VAAL's reported VAAL's peak)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def open_study(params: Params, device: str | torch.device, out_dir: str | Path, progress: bool = True,
               only: list[tuple[str, int]] | None = None) -> Study:
    """Everything that can fail fast, before training (checks.check_study: the output folder refuses other
    params, and a `reuse_from` study run with other params, before the long data load), and only then is
    anything written (outputs.StudyFolder.open: the params; the reused study's finished slices, copied, not
    recomputed). The study computes `only` of its slices, where given."""
    device = resolve_device(str(device))
    folder = StudyFolder(out_dir)
    data = check_study(params, device, folder)
    log.info("%s on %s: %s", params.study, device, describe_precision(params, device))
    announce_sorter_training(params)  # a paper profile's sorters trained short of the paper's 400 epochs
    slices = folder.open(params, only)
    return Study(params, data, device, Path(out_dir), slices, progress)


def warn_fingerprint_mismatch(params: Params, out_dir: Path, device: torch.device) -> None:
    """Say so, in one line, when this run would compute cycles with another numerics fingerprint
    (provenance.fingerprint: processor, instruction sets, torch build, device, precision, CPU threads) than
    the study's slices so far: its rows would not match theirs to the last digit, and the methods of a
    seed would not share their cycle 0 though they share data, weights and batch order. It refuses
    nothing. A render of a finished study computes nothing and says nothing."""
    now = fingerprint(device, describe_precision(params, device))
    used = StudyFolder(out_dir).fingerprints_used()
    differ = fingerprint_differences(used, now)
    if differ:
        threads = differ.get("threads") if device.type == "cpu" else None
        hint = f"; run with OMP_NUM_THREADS={max(threads)} to match the threads" if threads else ""
        log.warning("%s: this run's numerics differ from the study's slices so far in %s: the numbers depend on them,"
                    " so this run's rows will not match theirs to the last digit and methods of a seed would not"
                    " share their cycle 0%s", params.study, describe_differences(differ, now), hint)


def run_study(params: Params, device: str | torch.device = "auto", out_dir: str | Path = "outputs/study",
              only: list[tuple[str, int]] | None = None, progress: bool = True) -> pd.DataFrame:
    """Run (or resume) every (method, seed) slice -- or just `only` -- and return the merged results."""
    study = open_study(params, device, out_dir, progress, only)
    return study.run_slices()
