"""The tidy results table and the figure helpers every notebook uses (one style for Figs. 4-8).

Table: one row per measurement, columns dataset, method, seed, cycle, n_labeled, metric, value.
Plot helpers take that table, draw on an axes and return it.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

# Final-cycle values stated in the paper's text (Sec. IV), for comparison marks; not measurements of ours.
PAPER_FINAL = {
    "cifar10": {"accuracy": {"random": 87.72, "vaal": 87.11, "coreset": 89.47, "ll4al": 90.45, "entropy": 90.64,
                             "l2r": 90.95},
                "spearman": {"ll4al": 0.971, "l2r-all-features": 0.975, "l2r": 0.977}},
    "celeba": {"accuracy": {"vaal": 89.29, "random": 90.67, "coreset": 91.02, "ll4al": 91.11, "l2r": 91.76,
                            "entropy": 92.25}},
    "mpii": {"pckh": {"entropy": 67.08, "random": 67.41, "ll4al": 68.27, "coreset": 68.53, "l2r": 69.37}},
    "shanghaitech": {"mae": {"l2r": 10.43, "ll4al": 10.73, "coreset": 10.98, "random": 11.28, "entropy": 15.04}},
}
# Labeled-set size of the paper's final cycle: marks are drawn only on a curve that ends there.
PAPER_FINAL_LABELED = {"cifar10": 10000, "celeba": 1000, "mpii": 1000, "shanghaitech": 100}
METHOD_LABELS = {"random": "Random", "entropy": "Entropy", "coreset": "Core-set", "vaal": "VAAL", "ll4al": "LL4AL",
                 "l2r": "L2R-AL (ours)", "l2r-all-features": "Rank-all-features", "l2r-mse": "L2R head + MSE"}
METRIC_LABELS = {"accuracy": "Accuracy (%)", "spearman": "Spearman's rank correlation (test)", "mae": "MAE",
                 "rmse": "RMSE", "pckh": "PCKh@0.5 (%)"}
METHOD_ORDER = list(METHOD_LABELS)


def load_results(out_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "results.csv")


def palette(methods) -> dict:
    """One colour-blind-safe colour per method, fixed across figures."""
    colours = sns.color_palette("colorblind", len(METHOD_ORDER))
    extra = [m for m in methods if m not in METHOD_ORDER]
    colours += sns.color_palette("dark", len(extra))
    return dict(zip(METHOD_ORDER + extra, colours))


def _ordered(methods) -> list[str]:
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def summarise(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, sd and number of seeds of `metric` per method and labeled-set size."""
    rows = table[table.metric == metric]
    return (rows.groupby(["method", "n_labeled"]).value.agg(["mean", "std", "count"]).reset_index()
            .rename(columns={"count": "seeds"}))


def learning_curve(table: pd.DataFrame, metric: str, ax=None, paper: dict | None = None, paper_at: int | None = None,
                   title: str | None = None):
    """Metric vs number of labeled samples, one line per method (mean over seeds, band = +/- 1 sd);
    `paper` = {method: final value} marks the paper's final-cycle numbers with hollow markers at
    `paper_at` labeled samples -- only when the curve ends there (a smoke run stops earlier)."""
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    summary = summarise(table, metric)
    colours = palette(summary.method.unique())
    for method in _ordered(summary.method.unique()):
        curve = summary[summary.method == method].sort_values("n_labeled")
        colour = colours[method]
        ax.plot(curve.n_labeled, curve["mean"], marker="o", ms=3, color=colour, label=METHOD_LABELS.get(method, method))
        if curve.seeds.max() > 1:
            ax.fill_between(curve.n_labeled, curve["mean"] - curve["std"], curve["mean"] + curve["std"],
                            color=colour, alpha=0.15, linewidth=0)
    last = summary.n_labeled.max() if len(summary) else None
    if paper and paper_at not in (None, last):
        ax.plot([], [], linestyle="none", label=f"paper's final cycle: at {paper_at} labeled, beyond this run")
    elif paper:
        for method, value in paper.items():
            if method in set(summary.method):
                ax.plot([last], [value], marker="D", ms=7, mfc="none", color=colours[method], linestyle="none")
        ax.plot([], [], marker="D", mfc="none", color="grey", linestyle="none", label="paper, final cycle")
    seeds = int(summary.seeds.max()) if len(summary) else 0
    runs = f"mean of {seeds} seeds, band = +/- 1 sd" if seeds > 1 else "one seed, no band"
    decorate(ax, "Number of labeled samples", METRIC_LABELS.get(metric, metric), f"{title or ''} ({runs})".strip())
    return ax


def decorate(ax, xlabel: str, ylabel: str, title: str):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return ax


def final_cycle_table(table: pd.DataFrame, metric: str, paper: dict | None = None,
                      paper_at: int | None = None) -> pd.DataFrame:
    """Final-cycle mean, sd and seeds per method, with the paper's final value beside it when known
    (the column says at how many labeled samples the paper measured it, when that is given)."""
    summary = summarise(table, metric)
    final = summary[summary.n_labeled == summary.n_labeled.max()].set_index("method")
    final = final.loc[_ordered(final.index)]
    if paper:
        final["paper" if paper_at is None else f"paper at {paper_at}"] = [paper.get(m) for m in final.index]
    return final.drop(columns="n_labeled").round(4)


def timing_table(table: pd.DataFrame) -> pd.DataFrame:
    """Seconds per phase (train, fit, score, select) per method, summed over cycles, mean over seeds."""
    rows = table[table.metric.str.startswith("time_")]
    per_seed = rows.groupby(["method", "seed", "metric"]).value.sum().reset_index()
    wide = per_seed.groupby(["method", "metric"]).value.mean().unstack("metric")
    wide.columns = [c.removeprefix("time_").removesuffix("_s") for c in wide.columns]
    return wide.loc[_ordered(wide.index)].round(2)


def save_figure(ax_or_fig, out_dir: str | Path, name: str) -> Path:
    """Save under out_dir/figures/name.png and return the path."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    path = Path(out_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path
