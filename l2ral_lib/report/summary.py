"""The one-page summary of every study under an outputs folder (`make summary`): the studies found, a
methods x experiments table, each study's figures side by side, and one penalty matrix over all.

A study is a folder holding results.csv and params.json (as `python -m l2ral_lib run` writes them);
its params give the grid (seeds x cycles) a finished method must fill, so a stopped study shows its
methods as incomplete instead of averaging what happens to be there.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..paper import PAPER_FINAL, PAPER_FINAL_LABELED
from ..paths import enter_project_root
from ..tasks import primary_metrics
from . import figures, stats, tables
from .labels import method_label, metric_label, ordered


@dataclass
class StudyResults:
    name: str  # the folder's name, e.g. cifar10-smoke
    table: pd.DataFrame
    params: dict  # params.json
    metric: str  # the task's metric: the learning curve's y axis

    @property
    def grid(self) -> stats.Grid:
        return stats.Grid.of(self.table, self.metric, self.params)

    @property
    def paper_key(self) -> str | None:
        """Which of the paper's experiments this is (cifar10-ablations -> cifar10); None if none."""
        experiment = self.params.get("experiment", self.name)
        return next((key for key in PAPER_FINAL if experiment == key or experiment.startswith(key + "-")),
                    None)

    @property
    def paper(self) -> dict | None:
        return PAPER_FINAL.get(self.paper_key, {}).get(self.metric)

    @property
    def paper_at(self) -> int | None:
        return PAPER_FINAL_LABELED.get(self.paper_key)

    def status(self) -> pd.DataFrame:
        """Completeness of every method the params list (a method not started has no row in the table)."""
        done = stats.completeness(self.table, self.metric, self.grid).set_index("method")
        methods = list(dict.fromkeys(list(self.params.get("strategies", [])) + list(done.index)))
        out = done.reindex(methods)
        out["complete"] = out.complete.fillna(False).astype(bool)
        out["note"] = out.note.fillna("not started")
        return out


def load_study(folder: str | Path) -> StudyResults | None:
    """The study in `folder`, or None when it holds no results.csv + params.json with a task metric."""
    folder = Path(folder)
    if not ((folder / "results.csv").is_file() and (folder / "params.json").is_file()):
        return None
    table = pd.read_csv(folder / "results.csv")
    metrics = sorted(primary_metrics() & set(table.metric))
    if len(metrics) != 1:
        return None
    return StudyResults(folder.name, table, json.loads((folder / "params.json").read_text()), metrics[0])


def find_studies(outputs_dir: str | Path) -> list[StudyResults]:
    """Every study directly under `outputs_dir`, by folder name."""
    found = (load_study(folder) for folder in sorted(Path(outputs_dir).glob("*")) if folder.is_dir())
    return [study for study in found if study is not None]


def open_outputs(outputs_dir: str, out_dir: str = "") -> tuple[list[StudyResults], Path]:
    """From the project root (papermill passes --cwd; Jupyter starts in notebooks/), the studies under
    `outputs_dir` and the folder for the summary's figures (default <outputs_dir>/summary)."""
    enter_project_root()
    return find_studies(outputs_dir), Path(out_dir or Path(outputs_dir) / "summary")


def studies_table(studies: list[StudyResults]) -> pd.DataFrame:
    """One row per study: experiment, dataset, metric, methods, seeds, cycles, finished or not."""
    rows = []
    for s in studies:
        status = s.status()
        rows.append({"study": s.name, "dataset": s.params.get("dataset"), "metric": metric_label(s.metric),
                     "methods": len(status), "seeds": len(s.grid.seeds), "cycles": len(s.grid.cycles),
                     "finished": "yes" if status.complete.all() else
                     "no: " + "; ".join(f"{method_label(m)} {n}" for m, n in status.note.items() if n)})
    return pd.DataFrame(rows, columns=["study", "dataset", "metric", "methods", "seeds", "cycles", "finished"])


def overview(studies: list[StudyResults]) -> pd.DataFrame:
    """Methods x experiments: final metric and AUBC (mean and 95 % t-interval over seeds), rank within
    the experiment (final / AUBC, complete methods only), the paper's final value and rank."""
    columns = {}
    for s in studies:
        summary = stats.method_summary(s.table, s.metric, s.grid)
        head = f"{s.name}: {metric_label(s.metric)}, {len(s.grid.seeds)} seeds"
        part = {q: summary[summary.quantity == q].set_index("method") for q in ("final", "aubc")}
        columns[(head, "final")] = part["final"].apply(tables.mean_and_interval, axis=1)
        columns[(head, "AUBC")] = part["aubc"].apply(tables.mean_and_interval, axis=1)
        columns[(head, "rank final / AUBC")] = pd.Series(
            {m: f"{tables.rank_text(f)} / {tables.rank_text(a)}"
             for m, f, a in zip(part["final"].index, part["final"].itertuples(), part["aubc"].itertuples())},
            dtype=object)
        if s.paper:
            ranks = tables.paper_rank(s.paper, s.metric)
            columns[(head, f"paper final ({s.paper_at} labeled)")] = pd.Series(
                {m: f"{v:g} (rank {ranks[m]})" for m, v in s.paper.items()}, dtype=object)
    if not columns:
        return pd.DataFrame()
    table = pd.DataFrame(columns)
    table = table.loc[ordered(table.index)].fillna("-")
    table.index = [method_label(m) for m in table.index]
    table.index.name = "method"
    return table


def study_figures(study: StudyResults, width: float = 19.0):
    """Learning curve, AUBC and penalty matrix of one study side by side; returns the three axes."""
    fig, axes = plt.subplots(1, 3, figsize=(width, 4.8), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    figures.learning_curve(study.table, study.metric, ax=axes[0], title=study.name,
                           paper=study.paper, paper_at=study.paper_at)
    figures.aubc_plot(study.table, study.metric, ax=axes[1], grid=study.grid, title=f"{study.name}: AUBC")
    figures.penalty_heatmap(stats.penalty_matrix(study.table, study.metric, study.grid), ax=axes[2],
                            title=f"{study.name}: penalty matrix")
    fig.tight_layout()
    return axes


def per_dataset(studies: list[StudyResults]) -> list[StudyResults]:
    """One study per dataset for the aggregate: the one with the most methods, then seeds, then the first
    name (cifar10-ablations holds cifar10-smoke's methods and seeds: both would count CIFAR-10 twice)."""
    best: dict[str, StudyResults] = {}
    for s in studies:
        key = s.params.get("dataset", s.name)
        rank = (len(s.status()), len(s.grid.seeds))
        if key not in best or rank > (len(best[key].status()), len(best[key].grid.seeds)):
            best[key] = s
    return sorted(best.values(), key=lambda s: s.name)


def aggregate_penalty(studies: list[StudyResults]) -> pd.DataFrame:
    """The penalty matrices of one study per dataset, each cell averaged over the studies where both
    methods ran (see `stats.aggregate_penalty`); `attrs['studies']` names them."""
    chosen = per_dataset(studies)
    matrix = stats.aggregate_penalty([stats.penalty_matrix(s.table, s.metric, s.grid) for s in chosen])
    matrix.attrs["studies"] = [s.name for s in chosen]
    return matrix
