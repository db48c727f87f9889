"""The sections every experiment notebook shares, written once, in the order a reader wants them: one line
on what ran, what the study found (its verdicts on the paper's claims, then its main figure), the evidence
(tables, paired differences, penalty matrix, Fig. 5, what each method picked, cost), and an appendix (every
param, provenance). Each section displays its heading, the note that says how to read it, and its tables and
figures (saved under <out>/figures/); a section that does not apply to the study is left out, heading and
all. The notebooks keep what is their own (the experiment's introduction) and call these."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython import get_ipython
from IPython.display import Markdown, display

from ..config import parse_params
from ..data import load_dataset
from ..paper import PAPER_FINAL, PAPER_FINAL_LABELED
from . import counting, figure_style, figures, gallery, overlap, stats, tables
from . import picks as rp
from .claims import study_findings
from .labels import method_label
from .study import StudyResults

NOTES = {
    "final": """### Final cycle and area under the budget curve (AUBC)
Mean over seeds with its 95 % Student-t interval; AUBC = trapezoid area under the curve, initial cycle
included, labeled-set size scaled to [0, 1] (so it is the curve's mean height, in the metric's units).
Ranks count complete methods only. The paper's final-cycle numbers stand beside them where its text
states them; they are comparable only for the `paper` profile.""",
    "paired": """### Paired differences to Random and to L2R-AL
Within a seed all methods share the initial labeled set, the initial weights and the query subsets, so
differences are taken seed by seed: mean difference, its 95 % interval, the two-sided paired t-test's p
and its verdict at p < 0.05, unadjusted (the claims above adjust within each claim's family).""",
    "penalty": """### Pairwise penalty matrix (Ash et al., BADGE, ICLR 2020)
Cell (row, column): the share of cycles in which the row's method is significantly better than the
column's (two-sided paired t-test over seeds, p < 0.05). Under it, each column's mean: how often a method
is beaten (lower is better). Needs at least two seeds.""",
    "spearman": """## Fig. 5: Spearman correlation of predicted and true test losses
How well each loss-predicting method ranks its target's true per-sample test losses; where the study
records it, the dashed line is the same for L2R-AL's own entropy, a ranker every model has for free.""",
    "sorters": """## Two sorters: SoDeep's and the project's
`l2r` ranks through the paper's sorter (SoDeep's architecture and recipe, see FIDELITY.md), `l2r-gru-sorter`
through the project's standardised GRU sorter. Each sorter's quality on held-out synthetic lists of the
study's batch size, then L2R-AL with the GRU sorter minus L2R-AL, seed by seed.""",
    "cost": """## Cost: seconds per phase, summed over cycles (mean over seeds)
Wall-clock seconds as each slice measured them: they depend on what else the machine ran at the time
(the study's header says), so compare them within one study, not across studies.""",
    "picks": """## What each method picked
From the stored picks (`slices/<method>-seed<k>/selected.json`) and the dataset alone, nothing retrained:
the classes of each method's queries per cycle and their balance (entropy of the queried class
distribution, beside the pool's), how much the methods' queries overlap (Jaccard of the queried sets,
per cycle and seed, averaged), and the first items each method queried in one cycle.""",
    "counting": """## What each method picked, for counting, and where the final counters err
The head counts of each method's picks against the pool's (does a method chase the densest crowds?),
from the stored picks and the annotations; then, from each slice's `test_items.csv`, the final model's
error on every test image against its head count.""",
    "appendix": """## Appendix: every param and what the rows were computed on
The resolved params (as in `params.json`), then the commits and the numerics fingerprints the rows come
from (processor, the instruction sets that pick kernels, torch and its build, device, precision, threads:
`provenance.json`; docs/reproducibility.md). Rows of one fingerprint reproduce to the last digit; across
fingerprints a difference is expected.""",
}


def note(key: str) -> None:
    display(Markdown(NOTES[key]))


def show_figure(ax, out: str | Path, name: str) -> None:
    """Save a figure under <out>/figures/<name>.png, show it here once, and say under it what it draws."""
    figure_style.save_figure(ax, out, name)
    plt.show()
    text = figure_style.caption(ax)
    if text:
        display(Markdown(f"*{text}*"))


def header(params, params_path: str) -> None:
    """What ran, in one line: the profile, the methods, the seeds and the budget, a link to every param."""
    methods = ", ".join(method_label(m) for m in params.strategies)
    display(Markdown(
        f"**{params.study}** (`{params_path}`): {methods}; {stats.Grid.of(None, None, params).describe(method_label)}"
        f" x {params.n_cycles} cycles,"
        f" {params.initial_labeled:,} -> {params.max_labeled:,} labeled (+{params.query_size:,} per cycle)."
        f" Every param: [params.json](params.json) (beside this notebook) and the appendix at the end."))


def _paper(experiment: str, metric: str) -> tuple[dict | None, int | None]:
    return PAPER_FINAL.get(experiment, {}).get(metric), PAPER_FINAL_LABELED.get(experiment)


def _grid(table: pd.DataFrame, metric: str, out: str | Path) -> stats.Grid:
    """The seeds and cycles the study in `out` has finished, each method on those its seed plan gives it."""
    study = StudyResults(out)
    return stats.Grid.observed(table, metric, study.recorded if study.has_params() else None)


def findings_section(table: pd.DataFrame, metric: str, out: str | Path, experiment: str, figure: str, title: str) -> None:
    """What this study found: its verdicts on the paper's claims in the claims table's words, then the
    main figure (the learning curve of `metric`, saved as `figure`)."""
    out = Path(out)
    display(Markdown(f"## What this study found\n{study_findings(out.parent, out.name)}"))
    paper, paper_at = _paper(experiment, metric)
    show_figure(figures.learning_curve(table, metric, paper_at=paper_at, paper=paper, title=title,
                                       grid=_grid(table, metric, out)), out, figure)


def metric_sections(table: pd.DataFrame, metric: str, out: str | Path, experiment: str) -> None:
    """The evidence behind the main figure: final / AUBC table, AUBC plot, paired differences, penalty matrix."""
    paper, paper_at = _paper(experiment, metric)
    grid = _grid(table, metric, out)
    note("final")
    tables.show(tables.metric_table(table, metric, paper_at=paper_at, paper=paper, grid=grid))
    show_figure(figures.aubc_plot(table, metric, grid=grid), out, f"aubc_{metric}")
    note("paired")
    tables.show(tables.paired_table(table, metric, grid=grid))
    note("penalty")
    show_figure(figures.penalty_heatmap(stats.penalty_matrix(table, metric, grid)), out, f"penalty_{metric}")


def spearman_section(table: pd.DataFrame, out: str | Path, experiment: str, title: str) -> None:
    """Fig. 5 (the loss-predicting methods' test Spearman), where the study has a loss-predicting method."""
    if not (table.metric == "spearman").any():
        return
    note("spearman")
    paper, paper_at = _paper(experiment, "spearman")
    grid = _grid(table, "spearman", out)
    show_figure(figures.spearman_plot(table, paper=paper, paper_at=paper_at, title=title, grid=grid), out,
                "fig5_spearman")
    tables.show(tables.metric_table(table, "spearman", grid=grid))


SORTERS = {"l2r", "l2r-gru-sorter"}  # the methods of the two-sorter comparison


def sorters_section(table: pd.DataFrame, metric: str, quality: pd.DataFrame) -> None:
    """L2R-AL through the two sorters (a study that runs both): `quality`, the sorters' held-out rank
    quality (sorter.quality.sorter_quality, which the notebook reads: reporting reads no sorter), then L2R-AL
    with the GRU sorter minus L2R-AL on the Spearman and on `metric`."""
    note("sorters")
    tables.show(quality)
    for name in ("spearman", metric):
        tables.show(tables.paired_table(table[table.method.isin(SORTERS)], name, references=("l2r",)))


def picks_section(out: str | Path, params) -> None:
    """What each method picked (`show_picks`), its figures saved beside the others; for counting also the
    head counts of the picks and the final counters' errors (report.counting)."""
    note("picks")
    result = show_picks(StudyResults(out), params)
    if params.dataset.startswith("shanghaitech"):
        counting_section(out, result["picks"], result["data"].train_counts)


def _display(thing) -> None:
    """Display a table or figure under a notebook cell (printed outside one); a figure is then closed,
    so that the inline backend does not draw it twice."""
    shell = get_ipython()
    if isinstance(thing, str):
        print(thing)
    elif shell is not None and isinstance(thing, pd.DataFrame):
        tables.show(thing)  # whole: a picks table has a row per method and cycle, past pandas' row limit
    elif shell is not None:
        display(thing)
    elif isinstance(thing, pd.DataFrame):
        print(thing.to_string())
    if isinstance(thing, plt.Figure):
        plt.close(thing)


def show_picks(study: StudyResults, params, data=None, seed: int | None = None, cycle: int | None = None,
               n_images: int = 8, save: bool = True, show: bool = True, missing: str = "") -> dict:
    """What each method picked, in a notebook cell (`picks_section`'s, or the explore notebook's): classes and
    balance (report.picks), overlap and the oracle (report.overlap), pictures (report.gallery), from the
    study's stored picks and its dataset (`data`, else loaded on the CPU from `params`: a `Params` or the
    dict of params.json). `missing`: why the dataset is not there (explore.dataset); then what needs it
    (classes, balance, pictures) is left out and the section says why, the overlap of the picks still shown.
    Figures are saved in the study's figures folder (picks_classes, picks_balance, picks_jaccard,
    picks_gallery) unless `save` is False. The gallery shows `seed` (default: the first) at `cycle` (default:
    its last queried cycle). Returns the frames and the saved paths."""
    if isinstance(params, dict):
        params = parse_params(params)
    if data is None and not missing:
        data = load_dataset(params, "cpu")
    say = _display if show else (lambda thing: plt.close(thing) if isinstance(thing, plt.Figure) else None)
    picks = study.picks
    out = {"picks": picks, "figures": {}, "data": data}

    def figure(ax, name):
        if save:
            out["figures"][name] = figure_style.save_figure(ax, study.path, name)
        say(ax.figure)

    if data is None:
        say("The pictures of the picks (and for classification their classes and balance) need the dataset, which is"
            f" not here: {missing}")
    else:
        rp.check_indices(picks, data.n_pool)
    if data is not None and data.task == "classification":
        labels = rp.pool_labels(data)
        k = int(data.num_classes or labels.max() + 1)
        names = rp.class_names(data, k)
        hist = rp.class_histogram(picks, labels, k)
        bal = rp.balance(hist)
        pool = rp.pool_entropy(labels, k)
        pool_share = np.bincount(labels, minlength=k) / len(labels)
        out.update(histogram=hist, histogram_table=rp.histogram_table(hist, names), balance=bal, pool_entropy=pool,
                   balance_table=rp.balance_table(bal, pool), class_names=names, pool_share=pool_share)
        say(out["histogram_table"])
        figure(rp.class_histogram_plot(hist, pool_share=pool_share, names=names), "picks_classes")
        say(out["balance_table"])
        figure(rp.balance_plot(bal, pool, num_classes=k), "picks_balance")
    elif data is not None:
        say(f"Class histograms and balance are drawn for classification; this study is {data.task.replace('_', ' ')}.")
    table = overlap.jaccard_table(picks)
    out["jaccard"] = table
    if len(table):
        chance = (overlap.chance_jaccard(params.query_size, params.subset_size)
                  if params.subset_size and params.query_size < params.subset_size else None)
        out["jaccard_table"] = overlap.jaccard_text_table(table)
        say(out["jaccard_table"])
        figure(overlap.jaccard_heatmap(table, chance=chance), "picks_jaccard")
    if data is not None:
        seed = int(picks.seed.min()) if seed is None else seed
        cycle = int(picks[picks.seed == seed].cycle.max()) if cycle is None else cycle
        figure(gallery.picks_gallery(picks, data, seed, cycle, n=n_images), "picks_gallery")
    out["true_loss_note"] = overlap.true_loss_hook(picks, study.name)
    say(out["true_loss_note"])
    out["oracle_agreement"] = overlap.oracle_agreement(table)
    if len(out["oracle_agreement"]):
        say(out["oracle_agreement"])
    return out


def counting_section(out: str | Path, chosen: pd.DataFrame, pool_counts) -> None:
    note("counting")
    table = counting.pick_count_table(counting.pick_counts(chosen, pool_counts))
    show_figure(counting.pick_count_plot(table), out, "picks_counts")
    errors = counting.final_errors(out)
    if errors.empty:
        display(Markdown("*No slice of this study kept its final model's counts (`test_items.csv`): it was"
                         " computed before they were kept.*"))
        return
    tables.show(counting.error_by_count(errors))
    show_figure(counting.error_by_count_plot(errors), out, "final_errors_by_count")


def cost_section(table: pd.DataFrame) -> None:
    note("cost")
    tables.show(tables.cost_table(table))


def params_table(params) -> pd.DataFrame:
    """The resolved params as a key / value table, one row per key in the order `Params` declares them
    (grouped by meaning)."""
    values = params.to_dict()
    text = [", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for v in values.values()]
    frame = pd.DataFrame({"value": text}, index=pd.Index(list(values), name="key"))
    frame.attrs["caption"] = f"{params.study}: resolved params ({len(values)} keys, as in params.json)"
    return frame


def appendix(params, out: str | Path) -> None:
    """Every param, the commits and the numerics fingerprints the study's rows come from."""
    note("appendix")
    tables.show(params_table(params))
    record = StudyResults(out).provenance
    print(f"commits: {', '.join(record['commits'])}" + (" (mixed)" if record.get("mixed_commits") else ""))
    tables.show(pd.DataFrame(record.get("fingerprints", [])))
