"""The style every figure of the reports shares: a method keeps one colour, marker and line style in
every figure (`STYLES`, by strategy key, never by position in a plot): Okabe-Ito for the paper's six
methods, Paul Tol's colour-blind-safe hues for the rest; L2R-AL's variants are dashed, the extra baselines
dash-dotted, the loss oracle (a probe) dotted; L2R-AL (`l2r`) is the emphasised line: strong blue, thicker,
drawn on top. The legend sits outside the axes, at their right, in a framed box; bands and whiskers are cut
to the metric's range (`metric_range`). A figure function records what it drew in words (`caption`, for
the text under the figure); `save_figure` puts it in the study's figures folder.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import matplotlib.transforms as mtransforms
import numpy as np

from .study import StudyResults

EMPHASISED = "l2r"  # the paper's method


@dataclass(frozen=True)
class Style:
    """How one method is drawn in every figure."""

    colour: str
    marker: str
    linestyle: str = "-"
    linewidth: float = 1.4
    zorder: float = 2.0

    def line(self) -> dict:
        """Keyword arguments of `ax.plot` for the method's mean line."""
        return dict(color=self.colour, marker=self.marker, linestyle=self.linestyle, linewidth=self.linewidth,
                    zorder=self.zorder, ms=6 if self.emphasised else 4.5, markeredgewidth=0.8)

    @property
    def emphasised(self) -> bool:
        return self.linewidth > 2


# By strategy key (labels.METHOD_ORDER), so a method looks the same in every figure whatever else it is
# drawn with. The paper's six: Okabe-Ito (Wong, Nature Methods 2011), solid. L2R-AL's variants: dashed;
# the extra baselines: dash-dot; the loss oracle: black, dotted (a probe, not a competitor). Their hues
# are Paul Tol's colour-blind-safe qualitative ones (muted and "12-colour" sets). Every colour is used
# once; the marker and the line style tell apart the few hues that read alike.
STYLES = {
    "random": Style("#7f7f7f", "o"),  # grey: the reference every method must beat
    "entropy": Style("#e69f00", "s"),  # orange
    "coreset": Style("#009e73", "^"),  # bluish green
    "vaal": Style("#cc79a7", "v"),  # reddish purple
    "ll4al": Style("#d55e00", "D"),  # vermillion
    "l2r": Style("#0072b2", "o", linewidth=2.8, zorder=10),  # blue, the emphasised line
    "l2r-all-features": Style("#56b4e9", "P", "--"),  # sky blue
    "l2r-mse": Style("#332288", "X", "--"),  # indigo
    "margin": Style("#117733", "<", "-."),  # green
    "least-confidence": Style("#999933", ">", "-."),  # olive
    "bald": Style("#882255", "h", "-."),  # wine
    "badge": Style("#aa4499", "*", "-."),  # purple
    "l2r-softrank": Style("#44aa99", "d", "--"),  # teal
    "l2r-diffsort": Style("#cc6677", "p", "--"),  # rose
    "l2r-gru-sorter": Style("#661100", "8", "--"),  # brown
    "oracle-loss": Style("#000000", "x", ":"),  # black
    "l2r-joint": Style("#aa4466", "H", "--"),  # raspberry
    "ll4al-early-detach": Style("#ee8866", "D", "--"),  # light vermillion, LL4AL's marker: its sensitivity variant
}


# A method not in STYLES gets one of these by a hash of its key (the same in every figure, not unique).
_FALLBACK = (Style("#6699cc", "o", "--"), Style("#ddcc77", "s", "--"), Style("#88ccee", "^", "--"),
             Style("#aa4499", "v", ":"), Style("#117733", "D", ":"), Style("#332288", "P", ":"))


def style(method: str) -> Style:
    """The colour, marker and line style of `method` in every figure."""
    if method in STYLES:
        return STYLES[method]
    return _FALLBACK[zlib.crc32(method.encode()) % len(_FALLBACK)]


def palette(methods) -> dict:
    """{method: colour} for `methods`: each method's own colour, the same in every figure."""
    return {method: style(method).colour for method in methods}


def metric_range(metric: str) -> tuple[float, float]:
    """The values `metric` can take: accuracy and PCKh in [0, 100] (%), Spearman in [-1, 1], MAE and RMSE
    >= 0; anything else unbounded. Bands and whiskers are cut to it."""
    if metric == "accuracy" or metric.startswith("pckh"):
        return 0.0, 100.0
    if metric.startswith("spearman"):
        return -1.0, 1.0
    if metric in ("mae", "rmse"):
        return 0.0, np.inf
    return -np.inf, np.inf


def caption(ax) -> str:
    """What the figure function drew on `ax`, in words: its lines, markers and what the band or whisker is
    (empty for an axes none of them drew)."""
    return getattr(ax, "_l2ral_caption", "")


def set_caption(ax, text: str) -> None:
    """Record what a figure function drew on `ax`, for `caption`."""
    ax._l2ral_caption = text


def seeds_text(n_seeds) -> str:
    """'5 seeds', 'up to 5 seeds' (some method has fewer), '1 seed'."""
    counts = sorted({int(n) for n in n_seeds if n > 0})
    if not counts:
        return "no seed"
    most = counts[-1]
    return ("up to " if len(counts) > 1 else "") + f"{most} seed{'s' if most > 1 else ''}"


def legend_outside(ax, offset: float = 8.0, **kwargs):
    """The legend in a framed box right of the axes, `offset` points past the right spine (past the
    paper's marks when the margin holds them): never over the curves; its top at the axes' top."""
    kwargs = dict(fontsize=8, frameon=True, framealpha=1.0, edgecolor="0.7", borderaxespad=0.0) | kwargs
    shift = mtransforms.ScaledTranslation(offset / 72, 0, ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), bbox_transform=ax.transAxes + shift, **kwargs)


def decorate(ax, xlabel: str, ylabel: str, title: str | None, detail: str = "", legend_offset: float = 8.0):
    """Axis labels, a two-line title (`title`, then `detail` in smaller words), a light grid, the legend
    outside at the right."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("\n".join(part for part in (title, detail) if part), fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        legend_outside(ax, legend_offset)
    return ax


def save_figure(ax_or_fig, out_dir: str | Path, name: str) -> Path:
    """Save in the figures folder of the study (or summary) folder `out_dir` as name.png; return the path."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    path = StudyResults(out_dir).figures_dir / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path
