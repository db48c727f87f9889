"""Crowd counting: what each method picks, and where the final models err. From a study's stored picks
and the pool's annotated head counts (the dataset, no model): does a method chase the densest crowds?
And from each slice's test_items.csv (the final model's annotated and predicted count of every test image):
how each method's error grows with the crowd."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import stats
from .labels import method_label, ordered
from .study import StudyResults


def pick_counts(picks: pd.DataFrame, pool_counts) -> pd.DataFrame:
    """Every pick (report.study.StudyResults.picks) with the head count of the image and its percentile in the
    pool's count distribution (the share of pool images with fewer heads, ties halved: 50 = the median)."""
    pool_counts = np.asarray(pool_counts, dtype=float)
    ordered_counts = np.sort(pool_counts)
    counts = pool_counts[picks.pool_index.to_numpy()]
    below = np.searchsorted(ordered_counts, counts, side="left")
    at = np.searchsorted(ordered_counts, counts, side="right") - below
    return picks.assign(count=counts, percentile=100 * (below + at / 2) / len(pool_counts))


def pick_count_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Per method and query cycle (>= 1): the mean head count of its picks and their mean pool percentile,
    each the mean over seeds with its 95 % t-interval; the pool's mean count beside them in `attrs`."""
    per_seed = counts[counts.cycle >= 1].groupby(["method", "cycle", "seed"])[["count", "percentile"]].mean()
    rows = []
    for (method, cycle), group in per_seed.groupby(level=["method", "cycle"]):
        row = {"method": method, "cycle": int(cycle), "n_seeds": len(group)}
        for column in ("count", "percentile"):
            mean, low, high = stats.mean_interval(group[column].to_numpy())
            row.update({f"{column}_mean": mean, f"{column}_low": low, f"{column}_high": high})
        rows.append(row)
    table = pd.DataFrame(rows)
    rank = {m: i for i, m in enumerate(ordered(table.method.unique()))}
    return table.sort_values(["cycle", "method"], key=lambda s: s.map(rank) if s.name == "method" else s,
                             ignore_index=True)


def pick_count_plot(table: pd.DataFrame, ax=None):
    """Mean pool percentile of each method's picks per query cycle (50: picks as dense as the pool's median
    image; Random's expectation), with its 95 % interval over seeds."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for method in ordered(table.method.unique()):
        part = table[table.method == method]
        ax.errorbar(part.cycle, part.percentile_mean, yerr=[part.percentile_mean - part.percentile_low,
                                                            part.percentile_high - part.percentile_mean],
                    marker="o", capsize=3, label=method_label(method))
    ax.axhline(50, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="query cycle", ylabel="mean pool percentile of the picks' head counts", ylim=(0, 100),
           title="How dense are the crowds each method picks? (50 = the pool's median)")
    ax.legend(frameon=True, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def final_errors(out_dir: str | Path) -> pd.DataFrame:
    """Every slice's test_items.csv in one table: method, seed, test_index, count, predicted_count, error
    (predicted - annotated). Empty where no slice has one (a study from before they were kept)."""
    table = StudyResults(out_dir).test_items()
    if table is None:
        return pd.DataFrame(columns=["method", "seed", "test_index", "count", "predicted_count", "error"])
    return table.assign(error=table.predicted_count - table["count"])[
        ["method", "seed", "test_index", "count", "predicted_count", "error"]]


def error_by_count(errors: pd.DataFrame, bins=(0, 50, 100, 150, 200, 300, 600)) -> pd.DataFrame:
    """Mean absolute error of the final models per head-count bin of the test images (rows: methods,
    columns: bins with their image counts), averaged over images and seeds."""
    binned = errors.assign(bin=pd.cut(errors["count"], bins=list(bins), right=False))
    table = binned.groupby(["method", "bin"], observed=True).error.apply(lambda e: e.abs().mean()).unstack("bin")
    sizes = binned[binned.method == binned.method.iloc[0]].groupby(["bin"], observed=True).test_index.nunique()
    table = table.loc[ordered(table.index)]
    table.index = [method_label(m) for m in table.index]
    table.columns = [f"{int(b.left)}-{int(b.right) - 1} heads ({sizes.get(b, 0)} images)" for b in table.columns]
    table.columns.name = "MAE of the final models by the test image's head count"
    return table


def error_by_count_plot(errors: pd.DataFrame, ax=None):
    """Signed error (predicted - annotated count) of each test image against its head count, per method,
    means over seeds; a counter that regresses to the mean over-counts sparse and under-counts dense crowds."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    means = errors.groupby(["method", "test_index"]).agg(count=("count", "first"), error=("error", "mean"))
    for method in ordered(means.index.unique("method")):
        part = means.loc[method].sort_values("count")
        ax.plot(part["count"], part["error"], marker=".", linestyle="none", alpha=0.6, label=method_label(method))
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(xlabel="annotated head count of the test image", ylabel="predicted - annotated count (mean over seeds)",
           title="Where the final counters err")
    ax.legend(frameon=True, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
