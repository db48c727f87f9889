"""The active-learning study: for each seed and method, cycles of train -> evaluate -> query.

Random-number discipline (the one place it is stated; tests/test_loop.py pins it). Every draw derives
from (seed, purpose[, cycle]) through `derive_seed`:
- "initial": the initial labeled set -- shared by every method of a seed;
- "model" / ("head", method): the initial weights of the target model (shared by every method) and of
  the strategy's own nets, drawn inside `Study.build` under a forked generator, so building a model
  never moves the training stream;
- ("subset", cycle): one random order of the pool per (seed, cycle); each method scores the first
  `subset_size` of its own unlabeled items in that order (identical sets while the labeled sets
  agree), and `random` labels the first `query_size` of them;
- ("cycle", cycle): the global generator is reseeded at the start of each cycle, after any rebuild;
  training (batch order, augmentation, dropout) and the query's own draws consume it. It is not keyed
  by method: methods with the same labeled set train identically (cycle 0 above all), and it differs
  from cycle to cycle.
A resumed slice therefore continues exactly where it stopped: the state after each cycle (model,
head, labeled set, result rows) is saved atomically and the next cycle reseeds from (seed, cycle).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from . import store
from .config import Params
from .data import StudyData, load_dataset
from .errors import ParamsError
from .models import build_model
from .paths import pretrained_file
from .precision import describe as describe_precision, uses_channels_last
from .progress import StudyProgress
from .strategies import QueryContext, get_strategy
from .strategies.loss_head import announce_sorter_training
from .tasks import get_task
from .training import evaluate, train_cycle

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["dataset", "method", "seed", "cycle", "n_labeled", "metric", "value"]


def derive_seed(*parts) -> int:
    """A 63-bit seed from any parts; stable across runs, machines and Python versions."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def resolve_device(name: str) -> torch.device:
    """cpu | cuda[:i] | auto (cuda when available). Asking for cuda without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ParamsError("device", f"unknown device '{name}'; use cpu, cuda or auto") from None
    if device.type not in ("cpu", "cuda"):
        raise ParamsError("device", f"unsupported device '{name}'; use cpu, cuda or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParamsError("device", "cuda requested but no GPU is visible; use --device cpu (or auto)")
    return device


def initial_labeled_set(seed: int, n_pool: int, size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(derive_seed(seed, "initial"))
    return torch.randperm(n_pool, generator=generator)[:size]


def query_subset(seed: int, cycle: int, labeled: torch.Tensor, n_pool: int, subset_size: int | None) -> torch.Tensor:
    """The first `subset_size` unlabeled pool items in this (seed, cycle)'s shared random order."""
    order = torch.randperm(n_pool, generator=torch.Generator().manual_seed(derive_seed(seed, "subset", cycle)))
    unlabeled = torch.ones(n_pool, dtype=torch.bool)
    unlabeled[labeled.cpu()] = False
    candidates = order[unlabeled[order]]
    return candidates if subset_size is None else candidates[:subset_size]


def slice_name(method: str, seed: int) -> str:
    return f"{method}-seed{seed}"


def slice_path(out_dir: str | Path, method: str, seed: int) -> Path:
    """The folder of one slice: its state after the last finished cycle, rows, picks and provenance."""
    return Path(out_dir) / "slices" / slice_name(method, seed)


def study_slices(params: Params, only: list[tuple[str, int]] | None = None) -> list[tuple[str, int]]:
    """The (method, seed) slices of a study, or just `only`, in the order they run in one process."""
    return list(only) if only else [(method, seed) for seed in params.seeds for method in params.strategies]


@dataclass
class Study:
    """A loaded study: params, data, task and output folder, shared by its slices."""

    params: Params
    data: StudyData
    device: torch.device
    out_dir: Path
    progress: bool = True  # per-epoch progress bars
    tracker: StudyProgress | None = None  # one log line per finished cycle
    threads_checked: bool = False  # warn_thread_mismatch ran (once per run, before its first computed cycle)

    @property
    def task(self):
        return get_task(self.data.task)

    def build(self, method: str, seed: int):
        """Model and strategy of a slice, initialised from the seed alone (the model shared by every
        method); the global generator leaves as it came (see the module docstring)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, "model"))
            model = build_model(self.params, self.data).to(self.device)
            if uses_channels_last(self.params, self.device):
                model = model.to(memory_format=torch.channels_last)
            torch.manual_seed(derive_seed(seed, "head", method))
            strategy = get_strategy(method)(self.params, self.task, model, self.device)
        return model, strategy

    def slice_dir(self, method: str, seed: int) -> Path:
        return slice_path(self.out_dir, method, seed)

    def run_slice(self, method: str, seed: int) -> list[dict]:
        p, path = self.params, self.slice_dir(method, seed)
        path.mkdir(parents=True, exist_ok=True)
        model, strategy = self.build(method, seed)
        state_file = path / "state.pt"
        if state_file.is_file():
            state = torch.load(state_file, map_location=self.device, weights_only=False)
            model.load_state_dict(state["model"])
            strategy.load_state_dict(state["strategy"])
            labeled, rows, selected = state["labeled"].to(self.device), state["rows"], state["selected"]
            first_cycle = state["cycles_done"]
        else:
            labeled = initial_labeled_set(seed, self.data.n_pool, p.initial_labeled).to(self.device)
            rows, selected, first_cycle = [], {"0": labeled.tolist()}, 0
        self.write_views(path, rows, selected)
        if first_cycle < p.n_cycles:
            if self.device.type == "cpu" and not self.threads_checked:
                warn_thread_mismatch(p, self.out_dir)
                self.threads_checked = True
            record = store.SliceProvenance(path / "provenance.json", self.device, self.weights_used(strategy), first_cycle,
                                           describe_precision(p, self.device))
        trainable = torch.compile(model) if p.compile else model
        for cycle in range(first_cycle, p.n_cycles):
            if not p.continue_model and cycle > 0:
                # every cycle trains from the initial weights, the first one after a resume too (the
                # weights loaded from state.pt are the previous cycle's trained ones)
                model, strategy = self.build(method, seed)
                trainable = torch.compile(model) if p.compile else model
            torch.manual_seed(derive_seed(seed, "cycle", cycle))
            timings = {}
            start = time.perf_counter()
            train_cycle(trainable, strategy, self.data, self.task, labeled, p,
                        where=f"method {method}, seed {seed}, cycle {cycle}", progress=self.progress)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            timings["train"] = time.perf_counter() - start
            metrics = evaluate(model, strategy, self.data, self.task, p)
            n_labeled = len(labeled)
            if cycle < p.n_cycles - 1:
                new = self.query(model, strategy, labeled, seed, cycle, timings)
                labeled = torch.cat([labeled, new])
                selected[str(cycle + 1)] = new.tolist()
            measurements = {**metrics, **{f"time_{phase}_s": value for phase, value in timings.items()}}
            if self.device.type == "cuda":  # what a GPU proof run reports beside images/s
                measurements["gpu_peak_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2 ** 30
            rows += [dict(dataset=self.data.name, method=method, seed=seed, cycle=cycle, n_labeled=n_labeled,
                          metric=metric, value=float(value)) for metric, value in measurements.items()]
            store.atomic_torch_save(state_file, {
                "model": model.state_dict(), "strategy": strategy.state_dict(), "labeled": labeled.cpu(),
                "rows": rows, "selected": selected, "cycles_done": cycle + 1})
            self.write_views(path, rows, selected)
            record.cycle_done(cycle + 1)
            if self.tracker:
                self.tracker.cycle_done(method, seed, cycle, n_labeled, metrics)
        return rows

    def weights_used(self, strategy) -> dict:
        """Files of weights a slice's results depend on, with their hashes (recorded in provenance)."""
        used = strategy.weights_used()
        if self.params.pretrained:
            file = pretrained_file(self.params.pretrained)
            used["pretrained"] = {"file": str(file), "sha256": store.file_sha256(file)}
        return used

    def query(self, model, strategy, labeled, seed, cycle, timings) -> torch.Tensor:
        """Pool indices of the `query_size` items the strategy picks from this cycle's subset."""
        p = self.params
        subset = query_subset(seed, cycle, labeled, self.data.n_pool, p.subset_size).to(self.device)
        ctx = QueryContext(model=model, data=self.data, task=self.task, params=p, labeled=labeled, subset=subset,
                           timings=timings, seed=derive_seed(seed, "query", cycle))
        picks = strategy.query(ctx, p.query_size)
        if len(picks) != p.query_size or len(torch.unique(picks)) != len(picks):
            raise RuntimeError(f"strategy {strategy.name} returned {len(picks)} picks ({len(torch.unique(picks))}"
                               f" distinct) for a query of {p.query_size}")
        return subset[picks]

    @staticmethod
    def write_views(path: Path, rows: list[dict], selected: dict) -> None:
        """Readable copies of the slice state (state.pt stays the truth; a kill between the two
        writes is repaired when the slice is next opened)."""
        store.atomic_write_text(path / "rows.csv", pd.DataFrame(rows, columns=RESULT_COLUMNS).to_csv(index=False))
        store.atomic_write_json(path / "selected.json", selected)


def merge_results(out_dir: Path) -> pd.DataFrame:
    """results.csv = the rows of every slice under out_dir/slices (any process may have written them);
    provenance.json = the runs that computed them."""
    out_dir = Path(out_dir)
    frames = [pd.read_csv(f) for f in sorted((out_dir / "slices").glob("*/rows.csv"))]
    frames = [f for f in frames if len(f)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
    table = table.sort_values(["method", "seed", "cycle", "metric"], kind="stable", ignore_index=True)
    store.atomic_write_text(out_dir / "results.csv", table.to_csv(index=False))
    store.atomic_write_json(out_dir / "provenance.json", store.study_provenance(out_dir))
    return table


def check_files(params: Params) -> None:
    """Files the params name, checked before the (long) data loading."""
    if params.pretrained:
        pretrained_file(params.pretrained)


def check_against_data(params: Params, data: StudyData) -> None:
    """Checks that need the loaded data: the pool's size (a small ImageFolder tree, say) and each
    strategy's needs of the inputs (VAAL's image shape)."""
    if params.max_labeled > data.n_pool:
        raise ParamsError("max_labeled", f"({params.max_labeled}) is larger than the pool ({data.n_pool} samples"
                                         f" of {data.name}); lower max_labeled")
    for name in params.strategies:
        get_strategy(name).check_data(params, data)


def check_study(params: Params) -> StudyData:
    """Every check a run makes before training, on the CPU, writing nothing (`python -m l2ral_lib check`)."""
    check_files(params)
    data = load_dataset(params, torch.device("cpu"))
    check_against_data(params, data)
    return data


def open_study(params: Params, device: str | torch.device, out_dir: str | Path, progress: bool = True) -> Study:
    """Validate the output folder, load the data: everything that can fail fast, before training. With
    `reuse_from` (a sibling study run with the same params), its finished slices are copied, not recomputed."""
    device = resolve_device(str(device))
    out_dir = Path(out_dir)
    store.guard_output(out_dir, params)
    reuse = out_dir.parent / params.reuse_from if params.reuse_from else None
    if reuse and not reuse.exists():
        log.info("%s: reuse_from %s not found; every slice is computed here", params.experiment, reuse)
    elif reuse:
        store.check_reuse(reuse, params)
    check_files(params)
    data = load_dataset(params, device)
    check_against_data(params, data)
    store.write_params(out_dir, params)
    if reuse and reuse.exists():
        names = [slice_name(m, s) for s in params.seeds for m in params.strategies]
        copied = store.reuse_slices(reuse, out_dir, names, params.n_cycles)
        log.info("%s: %d finished slices copied from %s", params.experiment, len(copied), reuse)
    log.info("%s on %s: %s", params.experiment, device, describe_precision(params, device))
    announce_sorter_training(params)  # a paper profile's sorters trained short of the paper's 400 epochs
    return Study(params, data, device, out_dir, progress)


def warn_thread_mismatch(params: Params, out_dir: Path) -> None:
    """Say so when this run computes cycles on another torch thread count than the study's slices so far
    (store.cpu_threads_used): their cycle-0 models would differ though they share data, weights and batch
    order. A render of a finished study computes nothing and says nothing."""
    used, now = store.cpu_threads_used(out_dir.glob("slices/*")), torch.get_num_threads()
    if used and used != {now}:
        log.warning("%s: this run trains on %d torch thread(s), the study's slices so far on %s: on a CPU the"
                    " numbers depend on it, so methods would not share their cycle 0; run with OMP_NUM_THREADS=%d"
                    " to match", params.experiment, now, ", ".join(map(str, sorted(used))), max(used))


def run_study(params: Params, device: str | torch.device = "auto", out_dir: str | Path = "outputs/study",
              only: list[tuple[str, int]] | None = None, progress: bool = True) -> pd.DataFrame:
    """Run (or resume) every (method, seed) slice -- or just `only` -- and return the merged results."""
    study = open_study(params, device, out_dir, progress)
    slices = study_slices(params, only)
    study.tracker = StudyProgress(params.experiment, {(m, s): study.slice_dir(m, s) for m, s in slices},
                                  params.n_cycles, (study.task.metric, "spearman"))
    for method, seed in slices:
        study.run_slice(method, seed)
    return merge_results(study.out_dir)


def load_selected(out_dir: Path, method: str, seed: int) -> dict[int, list[int]]:
    """Pool indices labeled at each cycle (0 = the initial set) of one slice."""
    raw = json.loads((slice_path(out_dir, method, seed) / "selected.json").read_text())
    return {int(cycle): indices for cycle, indices in raw.items()}
