"""The results tables every notebook shows: final cycle and AUBC per method with intervals and ranks
(beside the paper's numbers), paired differences to the references, and the time per phase. Each
takes the tidy results table (results_table.RESULT_COLUMNS); the statistics come from `stats`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..tasks import higher_is_better
from . import stats
from .labels import method_label, metric_label, ordered


def load_results(out_dir: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "results.csv")


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


def timing_table(table: pd.DataFrame) -> pd.DataFrame:
    """Seconds per phase (train, fit, score, select) per method, summed over cycles, mean over seeds."""
    rows = table[table.metric.str.startswith("time_")]
    per_seed = rows.groupby(["method", "seed", "metric"]).value.sum().reset_index()
    wide = per_seed.groupby(["method", "metric"]).value.mean().unstack("metric")
    wide.columns = [c.removeprefix("time_").removesuffix("_s") for c in wide.columns]
    return wide.loc[ordered(wide.index)].round(2)
