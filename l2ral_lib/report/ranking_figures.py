"""The loss-ranking experiment's figures, from report.loss_ranking's tables: each combination's ranking
quality and its paired difference to the paper's method, frozen and joint, and the sorter's share of the
softrank - sodeep gap. A panel per function (`ax` in and out); `*_figure` lays a row of panels out.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from .loss_ranking import FREE_RANKER, METRICS, REFERENCE, SETTINGS, LossRanking, pool_rows, rank_errors


def _colours(ranking: LossRanking) -> dict:
    """A colour per objective of both heads (the same whatever the head), grey for the free ranker."""
    both = [m.split("|")[1] for m in ranking.methods if m.startswith("l2r|")]
    return dict(zip(both, sns.color_palette("colorblind"))) | {"entropy": "grey"}


def _interval_marks(ax, ranking: LossRanking, rows: pd.DataFrame, methods: list[str], value: str) -> None:
    """A mark per method and setting, one method per line (frozen filled circles above, joint hollow squares),
    whiskers from ci_low to ci_high."""
    colours = _colours(ranking)
    for i, method in enumerate(methods):
        for j, setting in enumerate(SETTINGS):
            row = rows[(rows.method == method) & (rows.setting == setting)].iloc[0]
            ax.errorbar(row[value], i + (j - 0.5) * 0.3, xerr=[[row[value] - row.ci_low], [row.ci_high - row[value]]],
                        fmt="o" if setting == "frozen" else "s", mfc="white" if setting == "joint" else None,
                        color=colours[method.split("|")[1]], capsize=2, ms=5)
    ax.set_yticks(range(len(methods)), [ranking.label(m) for m in methods])
    ax.set_ylim(len(methods) - 0.5, -0.5)  # the first method on top
    ax.grid(alpha=0.3)


def _settings_legend(ax) -> None:
    ax.plot([], [], "ko", label="frozen")
    ax.plot([], [], "ks", mfc="white", label="joint")
    ax.legend(fontsize=8, loc="lower right")


def quality_plot(ranking: LossRanking, metric: str, ax=None):
    """Each combination's `metric` on the held-out pool, frozen and joint, mean and 95 % t-interval; the free
    ranker last, and a random ranking's top-K recall as a dotted line."""
    ax = ax or plt.subplots(figsize=(5, 4.8))[1]
    rows = ranking.summary[(ranking.summary.split == "pool") & (ranking.summary.metric == metric)]
    _interval_marks(ax, ranking, rows, ranking.methods + [FREE_RANKER], "mean")
    if metric == "topk_recall":
        ax.axvline(ranking.chance, color="grey", lw=1, ls=":", label="random ranking")
    ax.set(xlabel=METRICS[metric], title=f"{METRICS[metric]} on the held-out pool")
    return ax


def difference_plot(ranking: LossRanking, metric: str, ax=None):
    """Each combination minus the paper's method on the held-out pool, seed by seed: mean difference and its
    95 % interval, frozen and joint."""
    ax = ax or plt.subplots(figsize=(5, 4.8))[1]
    rows = pool_rows(ranking.paired, "frozen", metric).pipe(lambda f: pd.concat([f, pool_rows(ranking.paired, "joint", metric)]))
    rows = rows[rows.reference == REFERENCE]
    _interval_marks(ax, ranking, rows, [m for m in ranking.methods if m != REFERENCE] + [FREE_RANKER], "mean_diff")
    ax.axvline(0, color="grey", lw=1)
    ax.set(xlabel=f"{METRICS[metric]} minus L2R-AL's", title=f"{METRICS[metric]}, held-out pool")
    return ax


def sorter_share_plot(ranking: LossRanking, setting: str, ax=None):
    """The L2R head's Spearman against its relaxation's own rank error: the softrank sweep as a line, the
    sorters (SoDeep's, the gru kind) and diffsort as marks with their 95 % intervals."""
    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    part = rank_errors(ranking).pipe(lambda f: f[f.setting == setting]).set_index("objective")
    sweep = part[part.index.str.startswith("softrank")].sort_values("mean_rank_error")
    ax.plot(sweep.mean_rank_error, sweep.mean_spearman, "o-", color="grey", label="softrank, tau swept")
    for objective, row in sweep.iterrows():
        ax.annotate(ranking.objectives[objective].removeprefix("softrank (").removesuffix(")"),
                    (row.mean_rank_error, row.mean_spearman), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for objective, marker in (("sodeep", "D"), ("gru-sorter", "^"), ("diffsort", "s")):
        row = part.loc[objective]
        ax.errorbar(row.mean_rank_error, row.mean_spearman, capsize=2, fmt=marker, label=ranking.objectives[objective],
                    yerr=[[row.mean_spearman - row.ci_low], [row.ci_high - row.mean_spearman]])
    ax.set(xscale="log", ylabel="Spearman, held-out pool", title=f"{setting}, L2R head",
           xlabel=f"relaxation's mean |rank error| on the head's lists (positions of {ranking.provenance['batch_size']})")
    # 1-2-5 ticks as plain numbers: matplotlib labels a log axis of under two decades at its minor ticks
    # in 'a x 10^b', which overlap
    ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.grid(alpha=0.3)
    return ax


def _row(draw, keys, width: float, title: str):
    """A figure of one panel per key, sharing the y axis: draw(key, ax) each."""
    fig, axes = plt.subplots(1, len(keys), figsize=(width * len(keys), 4.8), sharey=True)
    for key, ax in zip(keys, axes):
        draw(key, ax)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def quality_figure(ranking: LossRanking):
    """`quality_plot` of every metric, side by side."""
    fig = _row(lambda metric, ax: quality_plot(ranking, metric, ax), list(METRICS), 5,
               f"Predicted vs true losses, mean of {ranking.seeds} seeds, bars = 95 % t-interval")
    _settings_legend(fig.axes[-1])
    return fig


def difference_figure(ranking: LossRanking):
    """`difference_plot` of every metric, side by side."""
    fig = _row(lambda metric, ax: difference_plot(ranking, metric, ax), list(METRICS), 5,
               f"Paired differences to L2R head x sodeep, {ranking.seeds} seeds, bars = 95 % t-interval of the mean"
               " difference")
    _settings_legend(fig.axes[-1])
    return fig


def sorter_share_figure(ranking: LossRanking):
    """`sorter_share_plot` of both settings, side by side."""
    fig = _row(lambda setting, ax: sorter_share_plot(ranking, setting, ax), list(SETTINGS), 6,
               f"Ranking quality against the relaxation's own rank error, mean of {ranking.seeds} seeds")
    fig.axes[0].legend(fontsize=8)
    return fig
