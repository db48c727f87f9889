"""Reporting's one way into a finished (or partly finished) study: `StudyResults` reads a study folder
through study_folder.StudyLayout (its recorded params, results table, stored picks, test items,
provenance, figures folder), each file once, when first asked for; `Outputs` finds the studies under an
outputs folder and opens each once. Every report module opens studies here."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params, as_recorded, parse_params, renamed
from ..paper import PAPER_FINAL, PAPER_FINAL_LABELED
from ..paths import enter_project_root
from ..study_folder import StudyLayout
from ..tasks import primary_metrics
from . import stats
from .labels import method_label, ordered

PICK_COLUMNS = ["method", "seed", "cycle", "pool_index"]


class StudyResults:
    """One study folder as reports read it. `data_root`, when given, overrides the recorded one in `params`
    (the dataset may lie elsewhere on the reader's machine)."""

    def __init__(self, path: str | Path, data_root: str = ""):
        self.layout = StudyLayout(path)
        self.data_root = data_root

    @property
    def path(self) -> Path:
        return self.layout.path

    @property
    def name(self) -> str:
        """The folder's name, e.g. cifar10-smoke."""
        return self.layout.name

    @property
    def figures_dir(self) -> Path:
        return self.layout.figures_dir

    def has_params(self) -> bool:
        return self.layout.has_study()

    @cached_property
    def recorded(self) -> dict:
        """params.json as recorded, a renamed key read under its new name (a record is not the user's to edit:
        no warning)."""
        return renamed(self.layout.params())

    @cached_property
    def params(self) -> Params:
        """The recorded params as `Params`: a key an older record lacks at its default."""
        return parse_params({**self.recorded, **({"data_root": self.data_root} if self.data_root else {})})

    def with_defaults(self) -> dict:
        """The recorded params as config.as_recorded reads a record (a key an older record lacks at its
        default)."""
        return as_recorded(self.layout.params())

    def has_results(self) -> bool:
        return self.layout.results_file.is_file()

    @cached_property
    def table(self) -> pd.DataFrame:
        """The tidy results table (study_folder.RESULT_COLUMNS)."""
        return self.layout.results()

    @cached_property
    def metric(self) -> str | None:
        """The task's metric (the learning curve's y axis), or None where the table holds no single one."""
        metrics = sorted(primary_metrics() & set(self.table.metric))
        return metrics[0] if len(metrics) == 1 else None

    @property
    def grid(self) -> stats.Grid:
        return stats.Grid.of(self.table, self.metric, self.recorded)

    @property
    def observed(self) -> stats.Grid:
        """The seeds and cycles the table holds, each method on those of them its seed plan gives it: what the
        pages show while a study grows seed by seed (`grid`, the whole plan, says what is left)."""
        return stats.Grid.observed(self.table, self.metric, self.recorded)

    def seeds_text(self) -> str:
        """'5 seeds'; '3 of 8 seeds (LL4AL on 5)' while the study grows; the plan alone before any result."""
        if not self.has_results() or self.metric is None:
            return stats.Grid.of(None, None, self.recorded).describe(method_label)
        return self.observed.describe(method_label, of=self.grid)

    def finished(self) -> str:
        """'yes'; 'no' while the study grows seed by seed (`seeds_text` says how far); else 'no: ' and what is
        short of what has been run: cycles not reached, each method behind the others, methods not started."""
        if self.status().complete.all():
            return "yes"
        run, whole = self.observed, self.grid
        left = [f"{len(run.cycles)} of {len(whole.cycles)} cycles"] if len(run.cycles) < len(whole.cycles) else []
        done = stats.completeness(self.table, self.metric, run).set_index("method")
        behind = [f"{method_label(m)} {note}" for m, note in done.note.items() if note]
        behind += [f"{method_label(m)} not started" for m in self.recorded.get("strategies", []) if m not in done.index]
        short = left + behind
        return "no: " + "; ".join(short) if short else "no"

    @property
    def paper_key(self) -> str | None:
        """Which of the paper's experiments this is (cifar10-ablations -> cifar10); None if none."""
        experiment = self.recorded.get("study", self.name)
        return next((key for key in PAPER_FINAL if experiment == key or experiment.startswith(key + "-")), None)

    @property
    def paper(self) -> dict | None:
        return PAPER_FINAL.get(self.paper_key, {}).get(self.metric)

    @property
    def paper_at(self) -> int | None:
        return PAPER_FINAL_LABELED.get(self.paper_key)

    def status(self) -> pd.DataFrame:
        """Completeness of every method the params list (a method not started has no row in the table)."""
        done = stats.completeness(self.table, self.metric, self.grid).set_index("method")
        methods = list(dict.fromkeys(list(self.recorded.get("strategies", [])) + list(done.index)))
        out = done.reindex(methods)
        out["complete"] = out.complete.fillna(False).astype(bool)
        out["note"] = out.note.fillna("not started")
        return out

    @cached_property
    def picks(self) -> pd.DataFrame:
        """Tidy picks of every slice: columns method, seed, cycle, pool_index (ints), cycle 0 = the initial
        labeled set; rows by method (paper order), seed, cycle, and within a batch in the order stored (the
        strategy's own order)."""
        frames = [pd.DataFrame({"method": folder.method, "seed": folder.seed, "cycle": cycle,
                                "pool_index": np.asarray(indices, dtype=np.int64)})
                  for folder in self.layout.slices() if folder.selected_file.is_file()
                  for cycle, indices in folder.selected().items()]
        if not frames:
            raise FileNotFoundError(f"no stored picks under {self.path}: not a study folder, or no slice has"
                                    " finished a cycle yet")
        picks = pd.concat(frames, ignore_index=True)
        rank = {m: i for i, m in enumerate(ordered(picks.method.unique()))}
        picks = picks.assign(_rank=picks.method.map(rank)).sort_values(["_rank", "seed", "cycle"], kind="stable")
        return picks[PICK_COLUMNS].reset_index(drop=True).astype({"seed": int, "cycle": int, "pool_index": np.int64})

    def test_items(self) -> pd.DataFrame | None:
        """Every slice's final-model values of the test items, with its method and seed; None where no slice
        kept them (a study from before they were kept)."""
        frames = [items.assign(method=folder.method, seed=folder.seed) for folder in self.layout.slices()
                  if (items := folder.test_items()) is not None]
        return pd.concat(frames, ignore_index=True) if frames else None

    @cached_property
    def provenance(self) -> dict:
        """Every slice's runs, merged: the commits and numerics fingerprints the rows come from."""
        return self.layout.provenance()


def notebook_study(study_dir: str, data_root: str = "") -> StudyResults:
    """For a notebook: run from the project root (papermill passes --cwd; Jupyter starts in notebooks/) and
    open the study folder `study_dir`, refused at once where it holds no study."""
    enter_project_root()
    study = StudyResults(study_dir, data_root)
    if not study.has_params():
        raise FileNotFoundError(f"{study.layout.params_file} not found: study_dir must be a study folder"
                                " (outputs/<study>)")
    return study


class Outputs:
    """The studies under an outputs folder, each opened once, when first asked for by name."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._opened: dict[str, StudyResults] = {}

    def __getitem__(self, name: str) -> StudyResults:
        if name not in self._opened:
            self._opened[name] = StudyResults(self.path / name)
        return self._opened[name]

    def studies(self) -> list[StudyResults]:
        """Every study directly under the folder with results and recorded params and one task metric, by
        folder name."""
        found = (self[folder.name] for folder in sorted(self.path.glob("*")) if folder.is_dir())
        return [s for s in found if s.has_params() and s.has_results() and s.metric is not None]


def find_studies(outputs_dir: str | Path) -> list[StudyResults]:
    """Every study directly under `outputs_dir` (Outputs.studies)."""
    return Outputs(outputs_dir).studies()


def notebook_outputs(outputs_dir: str, out_dir: str = "") -> tuple[list[StudyResults], Path]:
    """For a notebook, from the project root: the studies under `outputs_dir` and the folder for the
    summary's figures (default <outputs_dir>/summary)."""
    enter_project_root()
    return find_studies(outputs_dir), Path(out_dir or Path(outputs_dir) / "summary")
