"""The sections every experiment notebook shares, written once: each displays its heading, the note that
says how to read it, and its tables and figures (saved under <out>/figures/). The notebooks keep what
is their own (the experiment's introduction, its figure's caption, dataset-specific cells) and call these."""
from __future__ import annotations

from pathlib import Path

import json

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from ..paper import PAPER_FINAL, PAPER_FINAL_LABELED
from . import figures, picks, stats, tables

NOTES = {
    "run": """## Run (or resume) the study
Finished cycles are kept in `slices/`; rerunning continues after the last one.
One line per finished (method, seed, cycle) appears below the cell: its metrics, the elapsed time and an estimate of the time left.
With `collect` (`make ... EXECUTOR=slurm` renders this way once its tasks are done, `COLLECT=1` at any time) nothing runs:
the finished cycles are merged and every unfinished slice is listed with its state; tables and figures mark methods short of a seed or cycle as incomplete.""",
    "curve": "Lines: mean over seeds; band: 95 % Student-t interval across seeds (none with one seed).",
    "final": """### Final cycle and area under the budget curve (AUBC)
Mean over seeds with its 95 % Student-t interval; AUBC = trapezoid area under the curve, initial cycle
included, labeled-set size scaled to [0, 1] (so it is the curve's mean height, in the metric's units).
Ranks count complete methods only. The paper states final-cycle numbers in its text and gives only
curves otherwise ("curve only"); they are comparable only for the `paper` profile.""",
    "paired": """### Paired differences to Random and to L2R-AL
Within a seed all methods share the initial labeled set, the initial weights and the query subsets, so
differences are taken seed by seed: mean difference, its 95 % interval and the verdict of a two-sided
paired t-test (p < 0.05, in the metric's direction).""",
    "penalty": """### Pairwise penalty matrix (Ash et al., BADGE, ICLR 2020)
Cell (row, column): the share of cycles in which the row's method is significantly better than the
column's (two-sided paired t-test over seeds, p < 0.05). Under it, each column's mean: how often a method
is beaten (lower is better). Needs at least two seeds.""",
    "spearman": "## Spearman correlation of predicted and true test losses (loss-predicting methods)",
    "cost": "## Cost: seconds per phase, summed over cycles (mean over seeds)",
    "provenance": """### What the rows were computed on
The numerics fingerprints the study's rows come from (processor, the instruction sets that pick kernels,
torch and its build, device, precision, threads: provenance.json; docs/reproducibility.md). Rows of one
fingerprint reproduce to the last digit; across fingerprints a difference is expected.""",
    "picks": """## What each method picked
From the stored picks (`slices/<method>-seed<k>/selected.json`) and the dataset alone, nothing retrained:
the classes of each method's queries per cycle and their balance (entropy of the queried class
distribution, beside the pool's), how much the methods' queries overlap (Jaccard of the queried sets,
per cycle and seed, averaged), and the first items each method queried in one cycle.""",
}


def note(key: str) -> None:
    display(Markdown(NOTES[key]))


def show(ax, out: str | Path, name: str) -> None:
    """Save a figure under <out>/figures/<name>.png and show it here, once."""
    figures.save_figure(ax, out, name)
    plt.show()


def curve_section(table: pd.DataFrame, metric: str, out: str | Path, experiment: str, figure: str, title: str) -> None:
    """The learning curve of `metric` (saved as `figure`; the paper's final-cycle values marked where
    `experiment` is one of the paper's) and the final / AUBC table."""
    paper, paper_at = PAPER_FINAL.get(experiment, {}).get(metric), PAPER_FINAL_LABELED.get(experiment)
    note("curve")
    show(figures.learning_curve(table, metric, paper_at=paper_at, paper=paper, title=title), out, figure)
    note("final")
    display(tables.metric_table(table, metric, paper_at=paper_at, paper=paper))


def metric_sections(table: pd.DataFrame, metric: str, out: str | Path, experiment: str, figure: str,
                    title: str) -> None:
    """`curve_section`, then the AUBC plot, the paired differences and the penalty matrix."""
    curve_section(table, metric, out, experiment, figure, title)
    show(figures.aubc_plot(table, metric), out, f"aubc_{metric}")
    note("paired")
    display(tables.paired_table(table, metric))
    note("penalty")
    show(figures.penalty_heatmap(stats.penalty_matrix(table, metric)), out, f"penalty_{metric}")


def spearman_section(table: pd.DataFrame) -> None:
    """The loss-predicting methods' Spearman correlation with the true test losses (Fig. 5's quantity)."""
    if (table.metric == "spearman").any():
        note("spearman")
        display(tables.metric_table(table, "spearman"))


def cost_section(table: pd.DataFrame) -> None:
    note("cost")
    display(tables.timing_table(table))


def picks_section(out: str | Path, params) -> None:
    """What each method picked (report.picks), its figures saved beside the others."""
    note("picks")
    picks.picks_section(out, params)


def provenance_section(out: str | Path) -> None:
    """The commits and the numerics fingerprints the study's rows come from (its provenance.json)."""
    record = json.loads((Path(out) / "provenance.json").read_text())
    note("provenance")
    print(f"commits: {', '.join(record['commits'])}" + (" (mixed)" if record.get("mixed_commits") else ""))
    display(pd.DataFrame(record.get("fingerprints", [])))
