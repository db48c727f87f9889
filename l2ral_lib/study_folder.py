"""The layout of a study's output folder, the one contract between computing and reporting. Every file
name of the folder is spelled here and nowhere else; computing (outputs.StudyFolder, which extends
these classes with locks, the guard and atomic writes) and reporting (report.study) read and place
files through it. No torch: a report opens a study without the computation.

    <study>/params.json         the resolved params (seeds and strategies accumulate over runs)
    <study>/results.csv         every slice's rows, merged: the tidy results table (RESULT_COLUMNS)
    <study>/provenance.json     every slice's runs, merged
    <study>/figures/            the report's figures; <study>/jobs/ the Slurm submissions and logs
    <study>/slices/<method>-seed<k>/
        state.pt                the truth after the last finished cycle (never committed)
        rows.csv, selected.json readable views of it: result rows, pool indices labeled per cycle
        test_items.csv          the final model's value of every test item, where the task records them
        provenance.json         the runs that computed its cycles
        .lock                   held (flock) by the run computing the slice
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

# the tidy results table: one row per measurement (a metric of one method, seed and cycle)
RESULT_COLUMNS = ["dataset", "method", "seed", "cycle", "n_labeled", "metric", "value"]
# measurements of the machine, not of the method: they differ on every run, and no rerun is held to them
MACHINE_METRICS = ("time_", "gpu_peak_memory_gib")


def same_values(stored: pd.Series, rerun: pd.Series) -> pd.Series:
    """Row by row, whether a rerun reproduced a stored value to the last digit; a value both hold as NaN (a
    Spearman correlation against constant scores) is reproduced, though NaN != NaN."""
    return (stored == rerun) | (stored.isna() & rerun.isna())


def slice_name(method: str, seed: int) -> str:
    return f"{method}-seed{seed}"


def study_slices(params, only: list[tuple[str, int]] | None = None) -> list[tuple[str, int]]:
    """The (method, seed) slices of a study with `params` (its seeds and strategies, each strategy on the
    seeds `strategy_seeds` plans for it), or just `only`: seed by seed, each seed's methods in the params'
    order."""
    if only:
        return list(only)
    return [(method, seed) for seed in params.seeds for method in params.strategies if seed in params.seeds_of(method)]


class Entry:
    """A file or folder of a layout, by name: on a layout object, its path (`folder.rows_file` is
    folder.path / "rows.csv")."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, folder, owner=None):
        return self if folder is None else folder.path / self.name


class Folder:
    """A folder of the layout (a study's or a slice's), at `path`, with the runs that wrote it."""

    provenance_file = Entry("provenance.json")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    def provenance(self) -> dict:
        return json.loads(self.provenance_file.read_text())


class SliceLayout(Folder):
    """slices/<method>-seed<k>/ and what it holds."""

    state_file = Entry("state.pt")
    rows_file = Entry("rows.csv")
    selected_file = Entry("selected.json")
    test_items_file = Entry("test_items.csv")
    lock_file = Entry(".lock")

    @property
    def method(self) -> str:
        return self.name.rpartition("-seed")[0]

    @property
    def seed(self) -> int:
        return int(self.name.rpartition("-seed")[2])

    def rows(self) -> pd.DataFrame:
        """The slice's result rows (empty where none is written yet)."""
        if not self.rows_file.is_file() or not self.rows_file.stat().st_size:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        return pd.read_csv(self.rows_file)

    def cycles_in_view(self) -> int:
        """Cycles the readable rows.csv holds (a kill between the state and the view leaves it one short:
        progress.StudyProgress corrects that when the slice reports)."""
        return int(self.rows().cycle.nunique())

    def selected(self) -> dict[int, list[int]]:
        """Pool indices labeled at each cycle (0 = the initial set)."""
        raw = json.loads(self.selected_file.read_text())
        return {int(cycle): indices for cycle, indices in raw.items()}

    def test_items(self) -> pd.DataFrame | None:
        return pd.read_csv(self.test_items_file) if self.test_items_file.is_file() else None

    def differences(self, rerun: SliceLayout) -> list[str]:
        """One line per row or selection of this slice that `rerun` (the same slice computed again) does not
        reproduce to the last digit, the machine's measurements aside; and one for its per-item test values
        where they differ."""
        def reproducible(rows: pd.DataFrame) -> pd.DataFrame:
            rows = rows[~rows.metric.str.startswith(MACHINE_METRICS)]
            return rows.sort_values(["cycle", "metric"], ignore_index=True)[["cycle", "n_labeled", "metric", "value"]]

        merged = reproducible(self.rows()).merge(reproducible(rerun.rows()), on=["cycle", "n_labeled", "metric"],
                                                 how="outer", suffixes=("_stored", "_rerun"), indicator="found")
        merged = merged[(merged.found != "both") | ~same_values(merged.value_stored, merged.value_rerun)]
        lines = [f"cycle {r.cycle} ({r.n_labeled} labeled) {r.metric}: stored {r.value_stored!r}, rerun {r.value_rerun!r}"
                 for r in merged.itertuples()]
        picks = [self.selected(), rerun.selected()]
        lines += [f"cycle {cycle}: selected indices differ" for cycle in sorted(set(picks[0]) | set(picks[1]))
                  if picks[0].get(cycle) != picks[1].get(cycle)]
        return lines + _item_differences(self.test_items(), rerun.test_items())


def _item_differences(stored: pd.DataFrame | None, rerun: pd.DataFrame | None) -> list[str]:
    """No line, or one saying how the per-item test values of a rerun differ from the stored ones."""
    if stored is None:  # nothing to compare: a slice stored before its task recorded items
        return []
    if rerun is None:
        return ["test items: stored has them, the rerun does not"]
    if list(stored.columns) != list(rerun.columns) or len(stored) != len(rerun):
        return [f"test items: stored {len(stored)} rows of {list(stored.columns)}, rerun {len(rerun)} of"
                f" {list(rerun.columns)}"]
    differ = [(row, column) for column in stored.columns
              for row in stored.index[~same_values(stored[column], rerun[column])]]
    if not differ:
        return []
    row, column = differ[0]
    return [f"test items: {len(differ)} values differ (first: test index {stored.test_index[row]}, {column}:"
            f" stored {float(stored[column][row])!r}, rerun {float(rerun[column][row])!r})"]


class StudyLayout(Folder):
    """The output folder of one study and what it holds."""

    slice_class = SliceLayout
    params_file = Entry("params.json")
    results_file = Entry("results.csv")
    slices_dir = Entry("slices")
    figures_dir = Entry("figures")
    jobs_dir = Entry("jobs")

    def slice(self, method: str, seed: int):
        return self.slice_class(self.slices_dir / slice_name(method, seed))

    def slices(self) -> list:
        """Every slice folder there is, by name."""
        return [self.slice_class(path) for path in sorted(self.slices_dir.glob("*-seed*"))
                if path.is_dir() and path.name.rpartition("-seed")[2].isdigit()]  # not .<name>.partial: a copy under way

    def has_study(self) -> bool:
        """A study ran here: its params are recorded."""
        return self.params_file.is_file()

    def params(self) -> dict:
        """The recorded params, as written (old records may lack keys added since, or use renamed ones:
        config.renamed reads them)."""
        return json.loads(self.params_file.read_text())

    def results(self) -> pd.DataFrame:
        return pd.read_csv(self.results_file)

    def slice_rows(self) -> pd.DataFrame:
        """The rows of every slice, in slice-name order (what a merge writes to results.csv, unsorted)."""
        frames = [frame for frame in (folder.rows() for folder in self.slices()) if len(frame)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
