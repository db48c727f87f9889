"""The one-page summary of every study under an outputs folder (`make summary`): the studies found, a
compact methods x studies table of AUBC (and one of the final cycle), each study's figures in a row,
and one penalty matrix over all of them.

The studies are those report.study finds (results and params recorded, one task metric). A study that
grows seed by seed is shown on the seeds it has run, its header saying how many of those its params plan
("3 of 8 seeds"); a method short of a seed or cycle that the others have is marked incomplete and takes no
part in ranks or penalty matrices, instead of averaging what happens to be there.
"""
from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pandas as pd

from . import figures, stats, tables
from .labels import METRIC_LABELS, method_label, metric_label, ordered
from .study import StudyResults


def studies_table(studies: list[StudyResults]) -> pd.DataFrame:
    """One row per study: experiment, dataset, metric, methods, seeds, cycles, finished or not."""
    rows = []
    for s in studies:
        rows.append({"study": s.name, "dataset": s.recorded.get("dataset"), "metric": metric_label(s.metric),
                     "methods": len(s.status()), "seeds": s.seeds_text(), "cycles": len(s.grid.cycles),
                     "finished": s.finished()})
    return pd.DataFrame(rows, columns=["study", "dataset", "metric", "methods", "seeds", "cycles", "finished"])


def overview(studies: list[StudyResults]) -> pd.DataFrame:
    """Methods x experiments: final metric and AUBC (mean and 95 % t-interval over seeds), rank within
    the experiment (final / AUBC, complete methods only), the paper's final value and rank."""
    columns = {}
    for s in studies:
        summary = stats.method_summary(s.table, s.metric, s.observed)
        head = f"{s.name}: {metric_label(s.metric)}, {s.seeds_text()}"
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


def study_table(studies: list[StudyResults], quantity: str = "aubc") -> pd.DataFrame:
    """Methods x studies: every study one column (none left out), each cell the method's AUBC
    (`quantity` "aubc") or final-cycle value ("final") as mean [95 % t-interval] over seeds, rounded
    to the interval's spread (`tables.estimate`); "(incomplete)" for a method short of a seed or cycle,
    "-" for one the study did not run. The header's second line: the study's metric (unit, which way
    is better) and seeds."""
    columns = {}
    for s in studies:
        summary = stats.method_summary(s.table, s.metric, s.observed)
        part = summary[summary.quantity == quantity].set_index("method")
        arrow = "\u2191" if stats.better(s.metric) == "higher" else "\u2193"
        head = (s.name, f"{METRIC_LABELS.get(s.metric, s.metric)} {arrow}, {s.seeds_text()}")
        columns[head] = pd.Series({m: tables.estimate(r["mean"], r.ci_low, r.ci_high, r.n_seeds)
                                   + ("" if r.complete else " (incomplete)") for m, r in part.iterrows()},
                                  dtype=object)
    if not columns:
        return pd.DataFrame()
    table = pd.DataFrame(columns)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["study", "metric"])
    table = table.loc[ordered(table.index)].fillna(tables.MISSING)
    table.index = pd.Index([method_label(m) for m in table.index], name="method")
    name = "AUBC (area under the budget curve)" if quantity == "aubc" else "Final cycle"
    table.attrs["caption"] = (f"{name} per method and study: mean over seeds [95 % t-interval], rounded to the"
                              " interval's spread; \u2191 / \u2193: higher / lower is better; - : not run in"
                              " that study")
    return table


def study_figures(study: StudyResults, width: float = 13.0, height: float = 13.5):
    """One study's figure, at a size that reads on a page (about as wide as a notebook's output): the
    learning curve across the top (legend at its right), the AUBC plot and the penalty matrix under it;
    returns the three axes (curve, AUBC, penalty)."""
    fig = plt.figure(figsize=(width, height), layout="constrained")
    panels = fig.subplot_mosaic([["curve", "curve"], ["aubc", "penalty"]], width_ratios=[0.8, 1.2],
                                height_ratios=[1, 1.45])
    grid = study.observed
    figures.learning_curve(study.table, study.metric, ax=panels["curve"], title=study.name,
                           paper=study.paper, paper_at=study.paper_at, grid=grid)
    figures.aubc_plot(study.table, study.metric, ax=panels["aubc"], grid=grid, title=f"{study.name}: AUBC")
    figures.penalty_heatmap(stats.penalty_matrix(study.table, study.metric, grid), ax=panels["penalty"],
                            title=f"{study.name}: penalty matrix")
    return panels["curve"], panels["aubc"], panels["penalty"]


# Params that change how a run is computed or scheduled, not what it measures: two studies that differ
# only in these (an fp32 copy, a rerun with more methods, other seeds) are one setting of the experiment.
NOT_SETTING = frozenset({"study", "experiment", "strategies", "seeds", "reuse_from", "cluster", "data_root", "download",
                         "amp", "channels_last", "compile", "deterministic", "eval_batch_size", "precision"})


def setting(study: StudyResults) -> str:
    """What the study measures, as text: its params without NOT_SETTING (equal for the studies of one
    setting); a key an older params.json lacks counts at its default (what the code did before the key)."""
    kept = {key: value for key, value in study.with_defaults().items() if key not in NOT_SETTING}
    return json.dumps(kept, sort_keys=True, default=str)


def by_setting(studies: list[StudyResults]) -> list[list[StudyResults]]:
    """The studies grouped by `setting`, each group by name, the groups by their first name."""
    groups: dict[str, list[StudyResults]] = {}
    for s in studies:
        groups.setdefault(setting(s), []).append(s)
    return sorted((sorted(g, key=lambda s: s.name) for g in groups.values()), key=lambda g: g[0].name)


def aggregate_penalty(studies: list[StudyResults]) -> pd.DataFrame:
    """One penalty matrix over every study: each setting (dataset, model, budget, training recipe; see
    `setting`) counts once -- the studies of one setting (cifar10-smoke, its fp32 copy and
    cifar10-ablations, which reruns its methods) are averaged first -- and each cell is the mean over
    the settings in which both methods ran (`stats.aggregate_penalty`). `attrs['studies']` names every
    study, `attrs['settings']` the studies of each setting, `attrs['no_cells']` those with no complete
    pair of methods to compare (one seed, or a single method with every seed run so far)."""
    groups = by_setting(studies)
    matrices = {s.name: stats.penalty_matrix(s.table, s.metric, s.observed) for s in studies}
    per_setting = [stats.aggregate_penalty([matrices[s.name] for s in group]) for group in groups]
    matrix = stats.aggregate_penalty(per_setting)
    matrix.attrs["studies"] = [s.name for group in groups for s in group]
    matrix.attrs["settings"] = [[s.name for s in group] for group in groups]
    matrix.attrs["no_cells"] = [name for name in matrix.attrs["studies"] if matrices[name].isna().all().all()]
    return matrix


def aggregate_title(matrix: pd.DataFrame) -> str:
    """'Aggregate penalty matrix: 7 settings, 10 studies' for the page's heading."""
    settings = matrix.attrs.get("settings", [])
    return (f"Aggregate penalty matrix: {len(settings)} settings, {len(matrix.attrs.get('studies', []))} studies"
            if settings else "Aggregate penalty matrix")
