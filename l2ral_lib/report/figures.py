"""The figures of every study (Figs. 4-8), in report.figure_style's style: the learning curve, Fig. 5's
Spearman curve, the AUBC plot and the penalty matrix. Each takes the tidy results table (or numbers already
computed), draws on `ax` (a new one if None) and returns it; `caption(ax)` is what it drew, in words
(lines, markers, what the band is), for the text under the figure (the title's second line says what the
band is, short). Beyond the style:
- with more than `MANY_METHODS` methods in a plot only L2R-AL's and the best baseline's bands are shaded;
- the paper's final values are hollow markers in the method's style: at the paper's labeled-set size
  when the curves go on past it, else in the right margin beside the curves' ends under a "paper @N"
  label (values far off the axis listed at its edge with their number);
- lines that repeat another method's every measurement say so ("Margin (= Entropy)").
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd

from ..tasks import higher_is_better
from . import stats
from .figure_style import EMPHASISED, decorate, metric_range, seeds_text, set_caption, style
from .labels import method_label, metric_label, ordered

MANY_METHODS = 6  # above this many methods in a plot, bands only for L2R-AL and the best baseline
NUMBERED_CELLS = 8  # above this many methods, a penalty matrix shows colours (and a colour bar), no numbers
ENTROPY_LINE = "Entropy of the L2R-AL target (free ranker)"


def is_baseline(method: str) -> bool:
    """A competitor of L2R-AL: neither one of its variants (`l2r-*`) nor the loss oracle (a probe)."""
    return not method.startswith("l2r") and method != "oracle-loss"


def best_baseline(table: pd.DataFrame, metric: str, grid: stats.Grid | None = None) -> str | None:
    """The baseline with the best mean AUBC (final value with fewer than two cycles), complete methods
    before incomplete ones; None without a baseline."""
    summary = stats.method_summary(table, metric, grid)
    summary = summary[summary.method.map(is_baseline) & summary["mean"].notna()]
    quantity = "aubc" if (summary.quantity == "aubc").any() else "final"
    summary = summary[summary.quantity == quantity]
    if summary.empty:
        return None
    summary = summary.sort_values(["complete", "mean"], ascending=[False, not higher_is_better(metric)])
    return str(summary.method.iloc[0])


def _band(ax, x, low, high, metric: str, colour: str, emphasised: bool):
    floor, ceiling = metric_range(metric)
    return ax.fill_between(x, np.clip(low, floor, ceiling), np.clip(high, floor, ceiling), color=colour,
                           alpha=0.22 if emphasised else 0.12, linewidth=0, zorder=1)


def _columns(values: list[float], gap: float) -> list[int]:
    """A column for each value (in order) so that two values closer than `gap` never share one."""
    placed: list[list[float]] = []
    out = []
    for value in values:
        column = next((k for k, ys in enumerate(placed) if all(abs(value - y) >= gap for y in ys)), len(placed))
        if column == len(placed):
            placed.append([])
        placed[column].append(value)
        out.append(column)
    return out


# The right margin, in points from the right spine (so it keeps its size in a small panel): the first
# column of marks, the step between columns, the width of a listed (off-scale) value, a listed row's height.
MARGIN_PT, MARGIN_STEP_PT, LISTED_WIDTH_PT, LISTED_ROW_PT = 12.0, 12.0, 50.0, 13.0
WIDEN = 1.6  # the y axis grows at most this much to take in the paper's values; beyond it they are listed


def _shifted(ax, transform, dx: float, dy: float = 0.0):
    """`transform` moved by (dx, dy) points."""
    return transform + mtransforms.ScaledTranslation(dx / 72, dy / 72, ax.figure.dpi_scale_trans)


def paper_marks(ax, paper: dict, paper_at: int, methods, x_range: tuple[float, float]) -> tuple[float, str]:
    """The paper's final values of `methods` as hollow markers in each method's style: at `paper_at`
    labeled samples when the curves go on past it, else (it lies at or beyond their last labeled-set
    size; `x_range` = (first, last)) in the right margin, next to the curves' ends, under a 'paper @N'
    label, in columns where values would overlap. The y axis is widened to take them in when that costs
    the curves at most a factor WIDEN of their scale; values still off the axis are listed at its top
    (bottom) edge with an arrow and the number. Returns (the margin's width in points, 0 when none; the
    caption's sentence)."""
    values = {m: float(paper[m]) for m in ordered(methods) if m in paper}
    if not values:
        return 0.0, ""
    listed = ", ".join(f"{method_label(m)} {v:g}" for m, v in sorted(values.items(), key=lambda kv: -kv[1]))
    hollow = dict(linestyle="none", mfc="white", ms=8, mew=1.8, clip_on=False, zorder=12)
    low, high = min(x_range), max(x_range)
    if low <= paper_at < high:
        for method, value in values.items():
            ax.plot([paper_at], [value], marker=style(method).marker, color=style(method).colour, **hollow)
        return 0.0, f"Hollow markers: the paper's final values at {paper_at:,} labeled ({listed})."
    bottom, top = ax.get_ylim()
    wide_bottom, wide_top = min(bottom, *values.values()), max(top, *values.values())
    if (wide_bottom, wide_top) != (bottom, top) and wide_top - wide_bottom <= WIDEN * (top - bottom):
        pad = 0.04 * (wide_top - wide_bottom)
        ax.set_ylim(wide_bottom - (pad if wide_bottom < bottom else 0), wide_top + (pad if wide_top > top else 0))
        bottom, top = ax.get_ylim()
    in_scale = sorted((m for m in values if bottom <= values[m] <= top), key=values.get)
    columns = dict(zip(in_scale, _columns([values[m] for m in in_scale], gap=0.03 * (top - bottom))))
    margin = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
    for method in in_scale:
        ax.plot([1.0], [values[method]], transform=_shifted(ax, margin, MARGIN_PT + MARGIN_STEP_PT * columns[method]),
                marker=style(method).marker, color=style(method).colour, **hollow)
    above = sorted((m for m in values if values[m] > top), key=lambda m: -values[m])
    below = sorted((m for m in values if values[m] < bottom), key=values.get)
    for arrow, off, edge, sign in (("\u2191", above, 1.0, -1), ("\u2193", below, 0.0, 1)):
        for k, method in enumerate(off):
            dy = sign * (k + 0.5) * LISTED_ROW_PT
            ax.plot([1.0], [edge], transform=_shifted(ax, ax.transAxes, MARGIN_PT, dy), marker=style(method).marker,
                    color=style(method).colour, **(hollow | dict(ms=6.5, mew=1.5)))
            ax.text(1.0, edge, f"{arrow}{values[method]:g}", transform=_shifted(ax, ax.transAxes, MARGIN_PT + 7, dy),
                    ha="left", va="center", fontsize=7, color=style(method).colour)
    ax.text(1.0, 1.0, f"paper\n@{paper_at:,}", transform=_shifted(ax, ax.transAxes, MARGIN_PT - 6, 3), ha="left",
            va="bottom", fontsize=7, color="0.25")
    width = max(MARGIN_PT + MARGIN_STEP_PT * max(columns.values()) + 6 if columns else 0.0,
                LISTED_WIDTH_PT if above or below else 0.0)
    off_scale = (" Values off this axis are listed at its edge with an arrow (\u2191 above, \u2193 below)."
                 if above or below else "")
    where = "this run's last cycle" if paper_at == high else f"beyond this run's {high:,.0f}"
    return width, f"Right margin: the paper's final values at {paper_at:,} labeled, {where} ({listed}).{off_scale}"


def coinciding(table: pd.DataFrame, metric: str) -> dict:
    """{method: the earlier method (in the paper's order) whose every measurement it repeats}: the same
    value at every seed and cycle, as Margin and Least confidence repeat Entropy on a binary task (their
    lines lie under one another)."""
    wide = stats.curves(table, metric)
    if wide.shape[1] < 2:  # every method starts from the same labeled set: one cycle tells nothing
        return {}
    vectors = {m: wide.loc[m].to_numpy(float) for m in ordered(wide.index.unique("method"))}
    same = {}
    for i, (method, values) in enumerate(vectors.items()):
        for earlier, other in list(vectors.items())[:i]:
            if earlier not in same and other.shape == values.shape and np.allclose(other, values, equal_nan=True):
                same[method] = earlier
                break
    return same


def _listed(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _curves(ax, table: pd.DataFrame, metric: str, grid: stats.Grid | None, shade: set | None):
    """The mean line and band of every method; returns (methods drawn, their summary, methods shaded, the
    caption's sentence on coinciding lines)."""
    summary = stats.curve_summary(table, metric)
    status = stats.completeness(table, metric, grid).set_index("method")
    methods = ordered(summary.method.unique())
    same = coinciding(table, metric) if len(summary) else {}
    if shade is None:
        shade = set(methods)
        if len(methods) > MANY_METHODS:
            shade = {EMPHASISED, best_baseline(table, metric, grid)} & set(methods)
    for method in methods:
        curve = summary[summary.method == method].sort_values("n_labeled")
        look = style(method)
        label = method_label(method) + ("" if status.loc[method, "complete"] else " (incomplete)")
        if method in same:
            label += f" (= {method_label(same[method])})"
        ax.plot(curve.n_labeled, curve["mean"], label=label, **look.line())
        if method in shade and curve.n_seeds.max() > 1:
            _band(ax, curve.n_labeled, curve.ci_low, curve.ci_high, metric, look.colour, look.emphasised)
    groups: dict[str, list[str]] = {}
    for method, earlier in same.items():
        groups.setdefault(earlier, [earlier]).append(method)
    note = " ".join(_listed([method_label(m) for m in group]) + " measure the same at every seed and cycle:"
                    " their lines lie on one another." for group in groups.values())
    return methods, summary, shade & set(methods), note


def _band_text(summary: pd.DataFrame, methods, shaded) -> str:
    """'band: 95 % t-interval, 5 seeds (shaded: Entropy, L2R-AL)' -- what the band is, short enough for a title."""
    if len(summary) == 0 or summary.n_seeds.max() < 2:
        return "one seed, no band"
    which = "" if set(shaded) == set(methods) else (
        " (shaded: " + ", ".join(method_label(m) for m in ordered(shaded)) + ")" if shaded else " (none shaded)")
    return f"band: 95 % t-interval, {seeds_text(summary.n_seeds.unique())}{which}"


def learning_curve(table: pd.DataFrame, metric: str, ax=None, paper: dict | None = None, paper_at: int | None = None,
                   title: str | None = None, grid: stats.Grid | None = None, shade=None):
    """Metric vs number of labeled samples, one line per method: the mean over seeds, the band its 95 %
    t-interval across seeds cut to the metric's range (`shade`: the methods to shade; default all, or
    only L2R-AL and the best baseline with more than MANY_METHODS). `paper` = {method: final value}
    marks the paper's final values at `paper_at` labeled samples (`paper_marks`). A method with fewer
    seeds or cycles than the others is labelled incomplete. The title's second line says what the band
    is; `caption(ax)` says everything drawn."""
    return _curve_figure(table, metric, ax, paper, paper_at, title, grid, shade)


def _curve_figure(table, metric, ax, paper, paper_at, title, grid, shade, extra=None):
    """`learning_curve`; `extra(ax)` draws more lines before the legend and returns its caption sentence."""
    ax = ax or plt.subplots(figsize=(8, 4.8))[1]
    methods, summary, shaded, same = _curves(ax, table, metric, grid, None if shade is None else set(shade))
    band = _band_text(summary, methods, shaded)
    sentences = [f"Lines: the mean over seeds of each method, L2R-AL thick; {band}, cut to the metric's range"
                 + (" (with more than 6 methods, L2R-AL's and the best baseline's by AUBC only)."
                    if set(shaded) != set(methods) else "."), same]
    if extra is not None:
        sentences.append(extra(ax))
    margin = 0.0
    if paper and paper_at is not None and len(summary):
        margin, sentence = paper_marks(ax, paper, paper_at, methods, (summary.n_labeled.min(),
                                                                        summary.n_labeled.max()))
        if sentence:
            sentences.append(sentence)
            where = "right margin" if margin else f"at {paper_at:,}"
            ax.plot([], [], marker="o", mfc="white", color="0.3", linestyle="none", ms=7, mew=1.5,
                    label=f"hollow: paper's final ({where})")
    decorate(ax, "Number of labeled samples", metric_label(metric), title, band, legend_offset=margin + 8.0)
    set_caption(ax, " ".join(s for s in sentences if s))
    return ax


def spearman_plot(table: pd.DataFrame, ax=None, paper: dict | None = None, paper_at: int | None = None,
                  title: str | None = None, grid: stats.Grid | None = None):
    """Fig. 5: test Spearman correlation between each loss-predicting method's predicted and true
    per-sample losses vs number of labeled samples (`learning_curve` of `spearman`). Where the table
    holds `spearman_entropy` (the Spearman of a method's own predictive entropy with its true losses: a
    ranker that costs nothing), L2R-AL's is drawn dashed in L2R-AL's colour, labelled ENTROPY_LINE (the
    mean over seeds, no band)."""
    free = table[(table.metric == "spearman_entropy") & (table.method == EMPHASISED)]

    def entropy_line(ax) -> str:
        if free.empty:
            return ""
        curve = free.groupby("n_labeled").value.agg(["mean", "size"]).sort_index()
        look = style(EMPHASISED)
        ax.plot(curve.index, curve["mean"], color=look.colour, linestyle="--", linewidth=1.8,
                zorder=look.zorder - 1, label=ENTROPY_LINE)
        return (f"Dashed: {ENTROPY_LINE[0].lower() + ENTROPY_LINE[1:]}, the test Spearman of L2R-AL's own"
                f" predictive entropy with its true losses (mean over {seeds_text(curve['size'])}, no band).")

    return _curve_figure(table, "spearman", ax, paper, paper_at, title, grid, None, extra=entropy_line)


def aubc_plot(table: pd.DataFrame, metric: str, ax=None, grid: stats.Grid | None = None, title: str | None = None):
    """AUBC per method, one row each, best at the top: the mean over seeds (the method's marker and
    colour) with its 95 % t-interval as whiskers cut to the metric's range; a hollow marker for an
    incomplete method."""
    summary = stats.method_summary(table, metric, grid)
    summary = summary[(summary.quantity == "aubc") & (summary.n_seeds > 0)]
    summary = summary.sort_values(["complete", "mean"], ascending=[False, not higher_is_better(metric)])
    ax = ax or plt.subplots(figsize=(6.5, 1.2 + 0.32 * max(len(summary), 2)))[1]
    floor, ceiling = metric_range(metric)
    for y, row in enumerate(summary.itertuples()):
        look = style(row.method)
        if np.isfinite(row.ci_low):
            low, high = max(row.ci_low, floor), min(row.ci_high, ceiling)
            ax.plot([low, high], [y, y], color=look.colour, linewidth=2.2 if look.emphasised else 1.4,
                    solid_capstyle="butt", zorder=look.zorder)
            ax.plot([low, high], [y, y], linestyle="none", marker="|", ms=8, color=look.colour, zorder=look.zorder)
        ax.plot([row.mean], [y], marker=look.marker, ms=9 if look.emphasised else 7, color=look.colour,
                mfc=look.colour if row.complete else "white", linestyle="none", zorder=look.zorder + 1)
    ax.set_yticks(range(len(summary)), [method_label(m) + ("" if c else " (incomplete)")
                                        for m, c in zip(summary.method, summary.complete)])
    for label, method in zip(ax.get_yticklabels(), summary.method):
        if method == EMPHASISED:
            label.set_fontweight("bold")
    ax.set_ylim(len(summary) - 0.5, -0.5)  # best at the top
    seeds = seeds_text(summary.n_seeds) if len(summary) else "no seed"
    runs = f"whiskers: 95 % t-interval over {seeds}" if summary.n_seeds.max() > 1 else "one seed, no interval"
    ax.set_xlabel(f"AUBC: {metric_label(metric)}")
    ax.set_title("\n".join([title or "Area under the budget curve", f"{runs}; best first"]), fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    set_caption(ax, f"Dots: mean AUBC over seeds (hollow: incomplete method), best at the top; {runs}, cut to"
                     " the metric's range. AUBC: the area under the learning curve with the labeled-set size"
                     " scaled to [0, 1], so the curve's mean height in the metric's units.")
    return ax


def penalty_heatmap(matrix: pd.DataFrame, ax=None, title: str | None = None, numbers: bool | None = None):
    """The pairwise penalty matrix (row beats column) as a heatmap, its column mean -- how often each
    method is beaten, lower = better -- in a row under it. `numbers`: write each cell's value; default:
    with at most NUMBERED_CELLS methods (more would not fit: a colour bar reads them instead)."""
    methods = ordered(matrix.index)
    numbers = len(methods) <= NUMBERED_CELLS if numbers is None else numbers
    side = max(5.0, 2.5 + 0.42 * len(methods))
    ax = ax or plt.subplots(figsize=(side + (0 if numbers else 1.0), side))[1]
    attrs = matrix.attrs
    heading = title or f"Pairwise penalty matrix ({attrs.get('metric', '')})"
    if len(methods) < 2 or matrix.isna().all().all():
        reason = attrs.get("note") or "fewer than two complete methods"
        if attrs.get("excluded"):
            reason += "\n(incomplete: " + ", ".join(method_label(m) for m in attrs["excluded"]) + ")"
        ax.text(0.5, 0.5, f"no penalty matrix: {reason}", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(heading, fontsize=10)
        set_caption(ax, f"No penalty matrix: {reason}.")
        return ax
    matrix = matrix.loc[methods, methods]
    labels = [method_label(m) for m in methods]
    values = matrix.to_numpy(float)
    vmax = max(1.0, float(np.nanmax(values)))
    cmap = plt.get_cmap("Reds").with_extremes(bad="0.85")  # grey diagonal: no self-comparison
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax, aspect="auto")  # fills its panel
    font = 8 if len(methods) <= 6 else 7
    if numbers:
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=font,
                        color="white" if value > 0.6 * vmax else "black")
    # column labels upright (rotated text would reach past the matrix and squeeze it in a panel), a long one
    # on several lines (one line would push the matrix down, away from the panel above it), words kept whole
    wrapped = [textwrap.fill(label, 16, break_on_hyphens=False, break_long_words=False) for label in labels]
    ax.set_xticks(range(len(methods)), wrapped, rotation=90, ha="center", va="bottom", fontsize=8)
    ax.set_yticks(range(len(methods)), labels, fontsize=8)
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        if label.get_text() == method_label(EMPHASISED):
            label.set_fontweight("bold")
    ax.xaxis.tick_top()
    ax.set_ylabel("row: winner")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("column: beaten")
    beaten = stats.how_often_beaten(matrix).to_numpy(float)[None, :]
    height = max(1.0 / len(methods), 0.08)  # room for an upright number under a narrow column
    below = ax.inset_axes([0, -1.3 * height, 1, height])
    below.imshow(beaten, cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
    for j, value in enumerate(beaten[0]):
        if np.isfinite(value):
            below.text(j, 0, f"{value:.2f}", ha="center", va="center", fontsize=font if numbers else 6.5,
                       rotation=0 if numbers else 90, color="white" if value > 0.6 * vmax else "black")
    below.set_xticks([])
    below.set_yticks([0], ["column mean\n(how often beaten;\nlower = better)"], fontsize=7)
    if not numbers:
        bar = ax.inset_axes([1.03, 0.2, 0.035, 0.6])  # beside the matrix, whatever the panel's layout
        ax.figure.colorbar(image, cax=bar, label="share of cycles the row beats the column")
    if "cycles" in attrs:
        planned = "; ".join(f"{method_label(m)} on {n}" for m, n in attrs.get("planned", {}).items())
        detail = [f"{attrs['cycles']} cycles x {attrs['seeds']} seeds"
                  + (f" ({planned}, by the seed plan: each pair on the seeds both have)" if planned else "")]
    elif attrs.get("settings"):  # an aggregate (summary.aggregate_penalty): each setting counts once
        detail = [f"mean over {len(attrs['settings'])} settings, each counted once: "
                  + "; ".join(" + ".join(group) for group in attrs["settings"])]
        if attrs.get("no_cells"):
            detail.append("no complete pair to compare in " + ", ".join(attrs["no_cells"]))
    else:
        detail = ["mean over " + ", ".join(attrs.get("studies", [f"{attrs.get('n_matrices')} experiments"]))]
    if attrs.get("excluded"):
        detail.append("incomplete, left out: " + ", ".join(method_label(m) for m in attrs["excluded"]))
    sentence = ("cell = share of cycles the row beats the column (paired t-test over seeds, p < 0.05); "
                + "; ".join(detail))
    ax.set_title(heading + "\n" + textwrap.fill(sentence, 75), fontsize=9)
    said = "; ".join(detail)  # capitalised by its first letter alone: str.capitalize lowers "VAAL" to "vaal"
    set_caption(ax, f"Cell (row, column): the share of cycles in which the row's method is significantly better"
                     f" than the column's (two-sided paired t-test over seeds, p < 0.05); grey: no comparison."
                     f" Under it, each column's mean: how often the method is beaten (lower is better)."
                     f" {said[:1].upper() + said[1:]}.")
    return ax


