"""The tidy results table and the figure and table helpers every notebook uses (one style for Figs. 4-8).

Table: one row per measurement, columns dataset, method, seed, cycle, n_labeled, metric, value.
Plot helpers take that table, draw on an axes and return it; the statistics come from `stats`.
Methods are shown by their display names (the strategy key `l2r` is "L2R-AL": this is a reproduction).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import stats
from .tasks import higher_is_better

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
                 "l2r": "L2R-AL", "l2r-all-features": "Rank-all-features", "l2r-mse": "L2R head + MSE",
                 "margin": "Margin", "least-confidence": "Least confidence", "bald": "BALD", "badge": "BADGE",
                 # appended, so that every earlier method keeps its colour (palette follows this order)
                 "l2r-softrank": "L2R head + SoftRank", "l2r-diffsort": "L2R head + DiffSort",
                 "l2r-gru-sorter": "L2R-AL (GRU sorter)",
                 # an oracle (reads the labels of the subset): the bound of LL4AL and L2R-AL, never a competitor
                 "oracle-loss": "Oracle loss (upper bound)",
                 "l2r-joint": "L2R-AL, joint (no stop-gradient)"}
METRIC_LABELS = {"accuracy": "Accuracy (%)", "spearman": "Spearman's rank correlation (test)", "mae": "MAE",
                 "rmse": "RMSE", "pckh": "PCKh@0.5 (%)"}
METHOD_ORDER = list(METHOD_LABELS)


def load_results(out_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "results.csv")


def palette(methods) -> dict:
    """One colour-blind-safe colour per method, fixed across figures."""
    order = METHOD_ORDER + [m for m in methods if m not in METHOD_ORDER]
    # colorblind has 10 distinct colours; beyond them, dark's 10 (never a colour twice up to 20 methods)
    return dict(zip(order, sns.color_palette("colorblind") + sns.color_palette("dark")))


def ordered(methods) -> list[str]:
    """Methods in the paper's order (baselines, L2R-AL, ablations), others after them by name."""
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def metric_label(metric: str) -> str:
    """The axis / header name of a metric with its direction, e.g. 'MAE (lower is better)'."""
    return f"{METRIC_LABELS.get(metric, metric)} ({stats.better(metric)} is better)"


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


def mean_and_interval(row) -> str:
    """'90.12  [89.5, 90.74]' from a `stats.method_summary` row ('n/a (1 seed)' in place of an interval)."""
    return f"{row['mean']:.4g}  {row['interval']}" if row["n_seeds"] else "n/a (no seed)"


def rank_text(row) -> str:
    """The rank of a `stats.method_summary` row, or why it has none."""
    if not row.complete:
        return "incomplete"
    return "-" if pd.isna(row.rank) else f"{row.rank:.0f}"


def paper_rank(paper: dict, metric: str) -> dict:
    """Rank of each method among the paper's stated values (1 = best)."""
    values = pd.Series(paper, dtype=float)
    return values.rank(ascending=not higher_is_better(metric), method="min").astype(int).to_dict()


def metric_table(table: pd.DataFrame, metric: str, paper: dict | None = None, paper_at: int | None = None,
                 grid: stats.Grid | None = None) -> pd.DataFrame:
    """Final cycle and AUBC per method: mean and 95 % t-interval over seeds, the number of seeds, the
    rank among complete methods, and the paper's final-cycle value and rank beside them where the paper
    states one (its AUBC: "curve only" -- the paper gives curves, no areas). The header says which
    way is better."""
    grid = grid or stats.Grid.of(table, metric)
    summary = stats.method_summary(table, metric, grid)
    last = table[(table.metric == metric) & (table.cycle == (grid.cycles[-1] if grid.cycles else -1))].n_labeled
    final_name = f"final ({int(last.iloc[0])} labeled)" if len(last) else "final"
    out = pd.DataFrame(index=pd.Index(ordered(summary.method.unique()), name="method"))
    for quantity, name in (("final", final_name), ("aubc", "AUBC")):
        part = summary[summary.quantity == quantity].set_index("method")
        out[name] = part.apply(mean_and_interval, axis=1)
        out["rank final" if quantity == "final" else "rank AUBC"] = pd.Series(
            [rank_text(r) for r in part.itertuples()], index=part.index)
    out["seeds"] = summary[summary.quantity == "final"].set_index("method").n_seeds
    if paper is not None:
        ranks = paper_rank(paper, metric)
        name = "paper final" if paper_at is None else f"paper final ({paper_at} labeled)"
        out[name] = [f"{paper[m]:g} (rank {ranks[m]})" if m in paper else "not in paper" for m in out.index]
        out["paper AUBC"] = ["curve only" if m in paper else "not in paper" for m in out.index]
    notes = summary[summary.quantity == "final"].set_index("method").note
    if notes.astype(bool).any():
        out["note"] = notes
    out.index = [method_label(m) for m in out.index]
    out.index.name = "method"
    out.columns.name = f"{metric_label(metric)}; mean  [95% t-interval over seeds]"
    return out


def paired_table(table: pd.DataFrame, metric: str, references=("random", "l2r"),
                 grid: stats.Grid | None = None) -> pd.DataFrame:
    """Mean paired difference (method - reference, seed by seed) with its 95 % interval and the paired
    t-test's verdict, for the final cycle and AUBC, against each reference present in the table."""
    out = {}
    for reference in references:
        diffs = stats.paired_differences(table, metric, reference, grid)
        for quantity in ("final", "aubc"):
            part = diffs[diffs.quantity == quantity].set_index("method") if len(diffs) else pd.DataFrame()
            if part.empty:
                continue
            column = f"vs {method_label(reference)}: {'AUBC' if quantity == 'aubc' else 'final'}"
            out[column] = part.apply(lambda r: (f"{r.mean_diff:+.3g}  {r.interval}  {r.verdict}"
                                                + (f" (p={r.p_value:.2g})" if np.isfinite(r.p_value) else "")
                                                + (" [incomplete]" if not r.complete else "")), axis=1)
    frame = pd.DataFrame(out).fillna("reference")  # a reference is not compared with itself
    frame = frame.loc[ordered(frame.index)] if len(frame) else frame
    frame.index = [method_label(m) for m in frame.index]
    frame.index.name = "method"
    frame.columns.name = f"{metric_label(metric)}; difference [95% t-interval], paired t-test p < 0.05"
    return frame


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


def timing_table(table: pd.DataFrame) -> pd.DataFrame:
    """Seconds per phase (train, fit, score, select) per method, summed over cycles, mean over seeds."""
    rows = table[table.metric.str.startswith("time_")]
    per_seed = rows.groupby(["method", "seed", "metric"]).value.sum().reset_index()
    wide = per_seed.groupby(["method", "metric"]).value.mean().unstack("metric")
    wide.columns = [c.removeprefix("time_").removesuffix("_s") for c in wide.columns]
    return wide.loc[ordered(wide.index)].round(2)


def sorter_quality(seq_len: int) -> pd.DataFrame:
    """The shipped sorters' held-out quality for lists of `seq_len` (their training records, written by
    `make sorter`): mean Spearman with the exact ranks and mean |rank error| in positions, per input
    family, one column pair per sorter kind. The gru sorter is validated on the project's families only."""
    import json  # noqa: PLC0415

    from .sorter import KINDS, weights_path  # noqa: PLC0415 (imports torch)

    rows = []
    for kind in KINDS:
        validation = json.loads(weights_path(seq_len, kind).with_suffix(".json").read_text())["validation"]
        for families, table in (validation if "sodeep" in validation else {"project": validation}).items():
            rows += [{"kind": kind, "families": families, "family": family, "spearman": quality["spearman"],
                      "rank error (positions)": quality["mean_abs_rank_error"]} for family, quality in table.items()]
    return pd.DataFrame(rows).pivot_table(index=["families", "family"], columns="kind", sort=False,
                                          values=["spearman", "rank error (positions)"]).round(3)


def save_figure(ax_or_fig, out_dir: str | Path, name: str) -> Path:
    """Save under out_dir/figures/name.png and return the path."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    path = Path(out_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path
