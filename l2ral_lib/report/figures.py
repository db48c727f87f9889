"""The figures of every study, in one style (Figs. 4-8): colour-blind palette fixed per method, "better
is" on every metric axis, the uncertainty stated in the title. Each takes the tidy results table (or
numbers already computed), draws on `ax` (a new one if None) and returns it."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..tasks import higher_is_better
from . import stats
from .labels import METHOD_ORDER, method_label, metric_label, ordered


def palette(methods) -> dict:
    """One colour-blind-safe colour per method, fixed across figures."""
    order = METHOD_ORDER + [m for m in methods if m not in METHOD_ORDER]
    # colorblind has 10 distinct colours; beyond them, dark's 10 (never a colour twice up to 20 methods)
    return dict(zip(order, sns.color_palette("colorblind") + sns.color_palette("dark")))


def learning_curve(table: pd.DataFrame, metric: str, ax=None, paper: dict | None = None, paper_at: int | None = None,
                   title: str | None = None):
    """Metric vs number of labeled samples, one line per method (mean over seeds, band = 95 % t-interval
    across seeds); `paper` = {method: final value} marks the paper's final-cycle numbers with hollow
    markers at `paper_at` labeled samples -- only when the curve ends there (a smoke run stops earlier).
    A method with fewer seeds or cycles than the others is labelled incomplete."""
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    summary = stats.curve_summary(table, metric)
    status = stats.completeness(table, metric).set_index("method")
    colours = palette(summary.method.unique())
    for method in ordered(summary.method.unique()):
        curve = summary[summary.method == method].sort_values("n_labeled")
        colour = colours[method]
        label = method_label(method) + ("" if status.loc[method, "complete"] else " (incomplete)")
        ax.plot(curve.n_labeled, curve["mean"], marker="o", ms=3, color=colour, label=label)
        if curve.n_seeds.max() > 1:
            ax.fill_between(curve.n_labeled, curve.ci_low, curve.ci_high, color=colour, alpha=0.15, linewidth=0)
    last = summary.n_labeled.max() if len(summary) else None
    if paper and paper_at not in (None, last):
        ax.plot([], [], linestyle="none", label=f"paper's final cycle: at {paper_at} labeled, beyond this run")
    elif paper:
        for method, value in paper.items():
            if method in set(summary.method):
                ax.plot([last], [value], marker="D", ms=7, mfc="none", color=colours[method], linestyle="none")
        ax.plot([], [], marker="D", mfc="none", color="grey", linestyle="none", label="paper, final cycle")
    seeds = int(summary.n_seeds.max()) if len(summary) else 0
    runs = f"mean of {seeds} seeds, band = 95% t-interval" if seeds > 1 else "one seed, no band"
    decorate(ax, "Number of labeled samples", metric_label(metric), f"{title or ''} ({runs})".strip())
    return ax


def decorate(ax, xlabel: str, ylabel: str, title: str):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return ax


def aubc_plot(table: pd.DataFrame, metric: str, ax=None, grid: stats.Grid | None = None, title: str | None = None):
    """AUBC per method: mean over seeds with 95 % t-interval whiskers, best method first; hollow
    markers for incomplete methods."""
    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    summary = stats.method_summary(table, metric, grid)
    summary = summary[(summary.quantity == "aubc") & (summary.n_seeds > 0)]
    summary = summary.sort_values(["complete", "mean"], ascending=[False, not higher_is_better(metric)])
    colours = palette(summary.method)
    for x, row in enumerate(summary.itertuples()):
        error = [[row.mean - row.ci_low], [row.ci_high - row.mean]] if np.isfinite(row.ci_low) else None
        ax.errorbar([x], [row.mean], yerr=error, fmt="o", ms=7, capsize=5, color=colours[row.method],
                    mfc=colours[row.method] if row.complete else "none")
    ax.set_xticks(range(len(summary)), [method_label(m) + ("" if c else "\n(incomplete)")
                                        for m, c in zip(summary.method, summary.complete)], rotation=20, ha="right")
    seeds = int(summary.n_seeds.max()) if len(summary) else 0
    runs = f"{seeds} seeds, whiskers = 95% t-interval" if seeds > 1 else "one seed, no interval"
    ax.set_ylabel(f"AUBC: {metric_label(metric)}")
    ax.set_title(f"{title or 'Area under the budget curve'} ({runs}; best first)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return ax


def penalty_heatmap(matrix: pd.DataFrame, ax=None, title: str | None = None):
    """The pairwise penalty matrix (row beats column) as a heatmap, its column mean -- how often each
    method is beaten, lower = better -- in a row under it."""
    ax = ax or plt.subplots(figsize=(6, 5.5))[1]
    methods = ordered(matrix.index)
    attrs = matrix.attrs
    heading = title or f"Pairwise penalty matrix ({attrs.get('metric', '')})"
    if len(methods) < 2 or matrix.isna().all().all():
        reason = attrs.get("note") or "fewer than two complete methods"
        if attrs.get("excluded"):
            reason += "\n(incomplete: " + ", ".join(method_label(m) for m in attrs["excluded"]) + ")"
        ax.text(0.5, 0.5, f"no penalty matrix: {reason}", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(heading, fontsize=10)
        return ax
    matrix = matrix.loc[methods, methods]
    labels = [method_label(m) for m in methods]
    vmax = max(1.0, float(np.nanmax(matrix.to_numpy())))
    cmap = plt.get_cmap("Reds").with_extremes(bad="0.85")  # grey diagonal: no self-comparison
    ax.imshow(matrix.to_numpy(float), cmap=cmap, vmin=0, vmax=vmax)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if value > 0.6 * vmax else "black")
    ax.set_xticks(range(len(methods)), labels, rotation=30, ha="left")
    ax.set_yticks(range(len(methods)), labels)
    ax.xaxis.tick_top()
    ax.set_ylabel("row: winner")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("column: beaten")
    beaten = stats.how_often_beaten(matrix).to_numpy(float)[None, :]
    height = 1.0 / len(methods)
    below = ax.inset_axes([0, -1.25 * height, 1, height])
    below.imshow(beaten, cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
    for j, value in enumerate(beaten[0]):
        below.text(j, 0, f"{value:.2f}", ha="center", va="center", fontsize=8)
    below.set_xticks([])
    below.set_yticks([0], ["column mean\n(how often beaten;\nlower = better)"], fontsize=8)
    detail = [f"{attrs['cycles']} cycles x {attrs['seeds']} seeds" if "cycles" in attrs else
              "mean over " + ", ".join(attrs.get("studies", [f"{attrs.get('n_matrices')} experiments"]))]
    if attrs.get("excluded"):
        detail.append("incomplete, left out: " + ", ".join(method_label(m) for m in attrs["excluded"]))
    ax.set_title(f"{heading}\ncell = share of cycles the row beats the column (paired t-test over seeds, p < 0.05);"
                 f" {'; '.join(detail)}", fontsize=9)
    return ax


def save_figure(ax_or_fig, out_dir: str | Path, name: str) -> Path:
    """Save under out_dir/figures/name.png and return the path."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    path = Path(out_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path
