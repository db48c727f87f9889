"""The results tables every notebook shows, for people: methods by their display names, a unit in every
header, "-" where a value is missing, each mean and interval rounded to what its spread supports
(`decimals`), p-values in full. Final cycle and AUBC per method with intervals and ranks (beside the
paper's numbers), paired differences to the references, the cost per phase. Each takes the tidy results
table (study_folder.RESULT_COLUMNS); the statistics come from `stats`. A table's caption is in
`table.attrs["caption"]`; `show(table)` displays it whole (no column or cell cut short).
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import pandas as pd

from ..tasks import higher_is_better
from . import stats
from .labels import method_label, metric_label, ordered

MISSING = "-"
# The unit of each metric's values (accuracy and PCKh in percent; a crowd count's error in people per
# image); Spearman's correlation has none.
METRIC_UNITS = {"accuracy": "%", "pckh": "%", "mae": "people", "rmse": "people"}
MAX_DECIMALS = 6


def unit(metric: str) -> str:
    """The unit of `metric`'s values ('' for none)."""
    return METRIC_UNITS.get(metric, "%" if metric.startswith("pckh") else "")


def with_unit(name: str, metric: str) -> str:
    """'AUBC (%)' for accuracy, 'AUBC' for Spearman."""
    return f"{name} ({unit(metric)})" if unit(metric) else name


def decimals(half_width: float) -> int | None:
    """Decimal places of a mean whose 95 % interval has half-width `half_width`, and of the interval's
    ends: one place past the half-width's leading digit, so the interval shows two significant digits
    of its spread and the mean no more than the spread supports. 10 ** -decimals is the rounding step:
    0.408 -> 2 (0.41), 4.3 -> 1, 0.0052 -> 4, 12.7 -> 0 (whole numbers; never fewer), capped at
    MAX_DECIMALS. None without a spread (one seed, or a zero-width interval): then `number` shows four
    significant digits."""
    if half_width is None or not np.isfinite(half_width) or half_width <= 0:
        return None
    return int(min(MAX_DECIMALS, max(0, 1 - math.floor(math.log10(half_width)))))


def number(value: float, places: int | None = None, signed: bool = False) -> str:
    """`value` to `places` decimals (four significant digits when None), '+' in front with `signed`,
    MISSING for NaN; a value that rounds to zero shows no minus sign."""
    if value is None or not np.isfinite(value):
        return MISSING
    sign = "+" if signed else ""
    if float(f"{value:.4g}" if places is None else f"{value:.{places}f}") == 0:
        value = 0.0  # -0.00 -> 0.00
    return f"{value:{sign}.4g}" if places is None else f"{value:{sign}.{places}f}"


def estimate(mean: float, low: float, high: float, n_seeds: int, signed: bool = False) -> str:
    """'72.5 [66.1, 78.9]': a mean and its 95 % interval, rounded together by `decimals` of the
    interval's half-width; '72 (1 seed)' without an interval; MISSING without a value."""
    if not n_seeds or mean is None or not np.isfinite(mean):
        return MISSING
    if n_seeds < 2 or not (np.isfinite(low) and np.isfinite(high)):
        return f"{number(mean, signed=signed)} (1 seed)"
    places = decimals((high - low) / 2)
    return f"{number(mean, places, signed)} [{number(low, places, signed)}, {number(high, places, signed)}]"


def p_text(p: float) -> str:
    """'p = 0.053' (two significant digits; '3.2e-05' below 1e-4); '' when no test ran."""
    if p is None or not np.isfinite(p):
        return ""
    return f"p = {p:.2g}" if p == 0 or p >= 1e-4 else f"p = {p:.1e}"


@contextmanager
def full_display():
    """Within it, pandas shows every row and column of a table and every cell in full (no '...'), on
    lines as wide as the table needs."""
    with pd.option_context("display.max_columns", None, "display.max_rows", None, "display.max_colwidth", None,
                           "display.width", None):
        yield


def html(table: pd.DataFrame) -> str:
    """The table as the notebook shows it (its caption, `attrs['caption']`, above it), nothing cut."""
    caption = table.attrs.get("caption", "")
    with full_display():
        body = table._repr_html_()
    return (f"<p><em>{caption}</em></p>\n" if caption else "") + body


def show(table: pd.DataFrame) -> None:
    """Display `table` in a notebook whole: every column, every cell in full, its caption above it."""
    from IPython.display import HTML, display  # noqa: PLC0415 (the package runs without IPython)

    display(HTML(html(table)))


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
    """Final cycle and AUBC per method: mean and 95 % t-interval over seeds (`estimate`), the rank among
    complete methods, the number of seeds, and the paper's final-cycle value and rank beside them where
    the paper states one (its AUBC: "curve only" -- the paper gives curves, no areas). Headers carry
    the metric's unit; the caption says which way is better."""
    grid = grid or stats.Grid.of(table, metric)
    summary = stats.method_summary(table, metric, grid)
    last = table[(table.metric == metric) & (table.cycle == (grid.cycles[-1] if grid.cycles else -1))].n_labeled
    final_name = with_unit(f"final, {int(last.iloc[0]):,} labeled" if len(last) else "final", metric)
    out = pd.DataFrame(index=pd.Index(ordered(summary.method.unique()), name="method"))
    for quantity, name in (("final", final_name), ("aubc", with_unit("AUBC", metric))):
        part = summary[summary.quantity == quantity].set_index("method")
        out[name] = pd.Series({m: estimate(r["mean"], r.ci_low, r.ci_high, r.n_seeds) for m, r in part.iterrows()},
                              dtype=object)
        out["rank final" if quantity == "final" else "rank AUBC"] = pd.Series(
            [rank_text(r) for r in part.itertuples()], index=part.index)
    out["seeds"] = summary[summary.quantity == "final"].set_index("method").n_seeds
    if paper is not None:
        ranks = paper_rank(paper, metric)
        name = with_unit("paper final" if paper_at is None else f"paper final, {paper_at:,} labeled", metric)
        out[name] = [f"{paper[m]:g} (rank {ranks[m]})" if m in paper else MISSING for m in out.index]
        out["paper AUBC"] = ["curve only" if m in paper else MISSING for m in out.index]
    notes = summary[summary.quantity == "final"].set_index("method").note
    if notes.astype(bool).any():
        out["note"] = notes.replace("", MISSING)
    out = out.fillna(MISSING)
    out.index = [method_label(m) for m in out.index]
    out.index.name = "method"
    out.attrs["caption"] = (f"{metric_label(metric)}: mean over seeds [95 % t-interval], rounded to the interval's"
                            " spread; rank among complete methods (1 = best); - : no value")
    return out


def paired_table(table: pd.DataFrame, metric: str, references=("random", "l2r"),
                 grid: stats.Grid | None = None) -> pd.DataFrame:
    """Mean paired difference (method - reference, seed by seed) with its 95 % interval, the paired
    t-test's p and its verdict, for the final cycle and AUBC, against each reference present in the
    table: '+0.41 [-0.01, 0.83], p = 0.053, not significant'."""
    out = {}
    for reference in references:
        diffs = stats.paired_differences(table, metric, reference, grid)
        for quantity in ("final", "aubc"):
            part = diffs[diffs.quantity == quantity].set_index("method") if len(diffs) else pd.DataFrame()
            if part.empty:
                continue
            column = with_unit(f"vs {method_label(reference)}: {'AUBC' if quantity == 'aubc' else 'final'}", metric)
            out[column] = pd.Series({m: _difference(r) for m, r in part.iterrows()}, dtype=object)
    frame = pd.DataFrame(out).fillna("reference")  # a reference is not compared with itself
    frame = frame.loc[ordered(frame.index)] if len(frame) else frame
    frame.index = [method_label(m) for m in frame.index]
    frame.index.name = "method"
    frame.attrs["caption"] = (f"{metric_label(metric)}: method - reference, seed by seed: mean difference"
                              f" [95 % t-interval], the paired t-test's p and its verdict at p < {stats.ALPHA}")
    return frame


def _difference(row) -> str:
    """One cell of `paired_table` from a `stats.paired_differences` row."""
    if row.n_seeds < 2:
        text = f"{estimate(row.mean_diff, np.nan, np.nan, row.n_seeds, signed=True)}, no test"
    else:
        text = f"{estimate(row.mean_diff, row.ci_low, row.ci_high, row.n_seeds, signed=True)}, {p_text(row.p_value)}"
        text += f", {row.verdict}"
    return text + ("" if row.complete else " (incomplete)")


def timing_table(table: pd.DataFrame) -> pd.DataFrame:
    """Seconds per phase (train, fit, score, select) per method (strategy keys), summed over cycles, mean
    over seeds: the numbers; `cost_table` is the same for people."""
    rows = table[table.metric.str.startswith("time_")]
    per_seed = rows.groupby(["method", "seed", "metric"]).value.sum().reset_index()
    wide = per_seed.groupby(["method", "metric"]).value.mean().unstack("metric")
    wide.columns = [c.removeprefix("time_").removesuffix("_s") for c in wide.columns]
    return wide.loc[ordered(wide.index)].round(2)


PHASES = ("train", "fit", "score", "select")  # the order of a cycle: train the model, fit a head, score, pick


def cost_table(table: pd.DataFrame) -> pd.DataFrame:
    """`timing_table` for people: display names, seconds in every header, the phases in a cycle's order
    and their total, one decimal, "-" where a method has no such phase (Random scores nothing)."""
    timing = timing_table(table)
    phases = [p for p in PHASES if p in timing.columns] + [p for p in timing.columns if p not in PHASES]
    timing = timing[phases]
    timing["total"] = timing.sum(axis=1, min_count=1)
    out = timing.map(lambda v: number(v, 1)).astype(object)
    out.columns = [f"{phase} (s)" for phase in out.columns]
    out.index = [method_label(m) for m in out.index]
    out.index.name = "method"
    out.attrs["caption"] = "Seconds per phase, summed over the cycles of a seed, mean over seeds; - : no such phase"
    return out
