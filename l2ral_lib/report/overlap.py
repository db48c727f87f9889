"""How alike the methods' picks are: `jaccard_table`, |A & B| / |A | B| of the batches two methods queried
at the same (seed, cycle), every pair, cycles >= 1 (cycle 0, the initial set, is shared by construction);
`jaccard_matrix`: per pair the mean over seeds of each seed's mean over cycles (heatmap with the 95 %
t-interval over seeds; no better direction). `chance_jaccard`: about what two independent random picks
would share. The loss oracle (an `oracle-loss` method, strategies/oracle_loss.py): `oracle_agreement`
gives each method's Jaccard with its picks; true losses of the picks are not stored by any study yet, and
`true_loss_hook` says so where their comparison with the subset's would go.
"""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import stats
from .labels import method_label, ordered
from .picks import seed_summary

ORACLE_METHOD = "oracle-loss"  # the loss oracle: queries the subset's items of highest true loss (reads the labels)


def jaccard(a, b) -> float:
    """|A & B| / |A | B| of two collections of pool indices (as sets); NaN when both are empty."""
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else float("nan")


def jaccard_table(picks: pd.DataFrame, include_initial: bool = False) -> pd.DataFrame:
    """Per (seed, cycle) and every pair of methods that both have that batch: columns seed, cycle,
    method_a, method_b (paper order: a before b), intersection, union, jaccard. Cycle 0 (the initial set,
    the same for every method of a seed) only with `include_initial`."""
    rows = []
    part = picks if include_initial else picks[picks.cycle >= 1]
    for (seed, cycle), group in part.groupby(["seed", "cycle"]):
        batches = {m: set(g.pool_index.tolist()) for m, g in group.groupby("method")}
        for a, b in itertools.combinations(ordered(batches), 2):
            both, either = batches[a] & batches[b], batches[a] | batches[b]
            rows.append(dict(seed=int(seed), cycle=int(cycle), method_a=a, method_b=b, intersection=len(both),
                             union=len(either), jaccard=len(both) / len(either) if either else float("nan")))
    return pd.DataFrame(rows, columns=["seed", "cycle", "method_a", "method_b", "intersection", "union", "jaccard"])


def jaccard_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per pair: each seed's mean over its cycles, then mean and 95 % t-interval over seeds (n_seeds,
    n_cycles = the most cycles a seed has)."""
    per_seed = table.groupby(["method_a", "method_b", "seed"], sort=False).jaccard.agg(["mean", "size"])
    per_seed = per_seed.rename(columns={"mean": "jaccard", "size": "n_cycles"}).reset_index()
    summary = seed_summary(per_seed, ["method_a", "method_b"], "jaccard")
    cycles = per_seed.groupby(["method_a", "method_b"], sort=False).n_cycles.max().reset_index()
    return summary.merge(cycles, on=["method_a", "method_b"], how="left")


def jaccard_matrix(table: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """Symmetric methods x methods matrix of `jaccard_summary`'s `value` (mean, ci_low, ci_high); the
    diagonal is 1 (a method's batch with itself)."""
    summary = jaccard_summary(table)
    methods = ordered(set(summary.method_a) | set(summary.method_b))
    matrix = pd.DataFrame(np.nan, index=pd.Index(methods, name="method"), columns=methods)
    for row in summary.itertuples():
        matrix.loc[row.method_a, row.method_b] = matrix.loc[row.method_b, row.method_a] = getattr(row, value)
    for m in methods:
        matrix.loc[m, m] = 1.0
    return matrix


def jaccard_text_table(table: pd.DataFrame) -> pd.DataFrame:
    """The matrix as 'mean [95% t-interval over seeds]' text, display names."""
    summary = jaccard_summary(table)
    methods = ordered(set(summary.method_a) | set(summary.method_b))
    text = pd.DataFrame("1", index=[method_label(m) for m in methods], columns=[method_label(m) for m in methods])
    for r in summary.itertuples():
        cell = f"{r.mean:.3f}  {stats.interval_text(r.ci_low, r.ci_high, r.n_seeds)}"
        text.loc[method_label(r.method_a), method_label(r.method_b)] = cell
        text.loc[method_label(r.method_b), method_label(r.method_a)] = cell
    text.index.name = "method"
    text.columns.name = ("Jaccard of the queried batches, mean over seeds of each seed's mean over cycles >= 1"
                         " [95% t-interval over seeds]; no better direction")
    return text


def method_overlap(table: pd.DataFrame, method: str, cycle: int) -> pd.DataFrame:
    """Jaccard of `method`'s batch with every other method's at one cycle, seed by seed (rows: the other
    methods, columns: seeds)."""
    rows = table[(table.cycle == cycle) & ((table.method_a == method) | (table.method_b == method))]
    other = np.where(rows.method_a == method, rows.method_b, rows.method_a)
    wide = rows.assign(other=other).pivot(index="other", columns="seed", values="jaccard")
    wide = wide.loc[ordered(wide.index)]
    wide.index = pd.Index([method_label(m) for m in wide.index], name="other method")
    wide.columns.name = f"Jaccard with {method_label(method)} at cycle {cycle}, per seed"
    return wide.round(3)


def chance_jaccard(query_size: int, subset_size: int) -> float:
    """About the Jaccard of two independent uniform picks of q items from the same S candidates:
    E|A & B| = q^2 / S, so J ~ q / (2S - q) (the methods of a seed score nearly the same subset)."""
    return query_size / (2 * subset_size - query_size)


def jaccard_heatmap(table: pd.DataFrame, ax=None, chance: float | None = None, title: str | None = None):
    """The Jaccard matrix (mean over seeds of each seed's mean over queried cycles) as a heatmap; each
    cell gives the mean and the 95 % t-interval over seeds. No better direction: it says how alike two
    methods' picks are. `chance`: the value two random pickers would reach (in the title)."""
    ax = ax or plt.subplots(figsize=(6.5, 5.5))[1]
    heading = title or "Overlap of the queried batches (Jaccard index)"
    summary = jaccard_summary(table)
    if summary.empty:
        ax.text(0.5, 0.5, "no Jaccard: fewer than two methods with a queried batch", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(heading, fontsize=10)
        return ax
    matrix, low, high = (jaccard_matrix(table, v) for v in ("mean", "ci_low", "ci_high"))
    methods = list(matrix.index)
    values = matrix.to_numpy(float).copy()
    np.fill_diagonal(values, np.nan)  # grey: a method with itself
    vmax = max(0.05, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    cmap = plt.get_cmap("Blues").with_extremes(bad="0.85")
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            interval = (f"\n[{low.iat[i, j]:.2f}, {high.iat[i, j]:.2f}]" if np.isfinite(low.iat[i, j]) else "")
            ax.text(j, i, f"{value:.2f}{interval}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * vmax else "black")
    labels = [method_label(m) for m in methods]
    ax.set_xticks(range(len(methods)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(methods)), labels)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Jaccard index (no better direction)")
    seeds, cycles = int(summary.n_seeds.max()), int(summary.n_cycles.max())
    runs = (f"mean over {seeds} seeds of each seed's mean over {cycles} queried cycles, [95% t-interval over seeds]"
            if seeds > 1 else f"one seed, mean over {cycles} queried cycles, no interval")
    extra = f"; two random pickers: about {chance:.3f}" if chance is not None else ""
    ax.set_title(f"{heading}\n{runs}{extra}", fontsize=9)
    return ax


# --- true losses of the picks (the loss oracle, strategies/oracle_loss.py)


def oracle_agreement(table: pd.DataFrame, oracle: str = ORACLE_METHOD) -> pd.DataFrame:
    """Each method's Jaccard with the oracle's picks (`jaccard_summary` rows that involve it): how much
    of what a perfect loss ranker would query a method queried. Empty when the study has no oracle."""
    summary = jaccard_summary(table) if len(table) else pd.DataFrame(columns=["method_a", "method_b"])
    rows = summary[(summary.method_a == oracle) | (summary.method_b == oracle)].copy()
    rows.insert(0, "method", np.where(rows.method_a == oracle, rows.method_b, rows.method_a))
    return rows.drop(columns=["method_a", "method_b"]).reset_index(drop=True)


def true_loss_hook(picks: pd.DataFrame, study: str) -> str:
    """Where the comparison of the picks' true losses with the subset's goes, in the study named `study`. No
    study stores per-item true losses today; a study with an `oracle-loss` method gives `oracle_agreement`
    instead. Returns the line a report prints about it (nothing is made up in its place)."""
    if ORACLE_METHOD in set(picks.method):
        return (f"{ORACLE_METHOD} is in this study: the table below gives each method's Jaccard with its picks;"
                " the picks' true losses themselves are not stored by the study")
    return (f"true losses of the picks: not available in {study} (no per-item true losses stored and no"
            f" `{ORACLE_METHOD}` method, the loss oracle); the comparison of the picks' losses with the"
            " subset's needs a study that has them")
