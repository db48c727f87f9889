"""The loss-ranking experiment's tables and figures: which loss head x ranking objective ranks a target's
per-sample losses best, beside the target's own softmax entropy, a ranker every model has for free.

`experiments/loss_ranking.py` measures and writes <out>/measurements.csv (per seed), summary.csv (mean and
95 % t-interval over seeds), paired.csv (paired differences and t-tests), rank_error.csv, targets.csv and
provenance.json; `read` opens them, the functions below turn them into what notebooks/loss_ranking.ipynb
shows: the finding in words (`findings`), the tables (each with its caption in `attrs["caption"]`) and the
pool table as markdown (`write_pool_table`: README's generated ranking block copies it); its figures are
report.ranking_figures'. Nothing here trains.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..study_folder import StudyLayout
from .claims import study_findings

HEADS = {"l2r": "L2R head (last block)", "lossnet": "LossNet (all blocks)"}
SETTINGS = ("frozen", "joint")  # heads trained on the final target's features, or alongside its training
SPLITS = ("pool", "test")  # the held-out pool (what a query ranks), the test set
METRICS = {"spearman": "Spearman", "kendall": "Kendall", "topk_recall": "top-K recall"}
REFERENCE = "l2r|sodeep"  # the paper's method: every combination is compared with it, seed by seed
# The reference without a head: the target's softmax entropy taken as the predicted loss (what the entropy
# strategy ranks by). Named as the free ranker it is, so that what a head adds over it shows in every table.
FREE_RANKER = "target|entropy"
FREE_RANKER_LABEL = "free ranker: the target's softmax entropy (no head)"


@dataclass
class LossRanking:
    """The experiment's tables as written, and the names they are shown by."""

    out: Path
    summary: pd.DataFrame
    paired: pd.DataFrame
    rank_errors: pd.DataFrame
    targets: pd.DataFrame
    provenance: dict
    objectives: dict[str, str]  # objective -> its name in tables: those of both heads first, then the sweep

    @property
    def methods(self) -> list[str]:
        """The head x objective combinations both heads ran (head by head, objectives in run order)."""
        both = [o for o in self.objectives if f"lossnet|{o}" in set(self.summary.method)]
        return [f"{head}|{objective}" for head in HEADS for objective in both]

    @property
    def sweep(self) -> list[str]:
        """The L2R-head variants beside them (softrank at other temperatures, eq. 6 with the gru sorter)."""
        return [f"l2r|{o}" for o in self.objectives if f"l2r|{o}" not in self.methods]

    @property
    def seeds(self) -> int:
        return int(self.summary.n_seeds.max())

    @property
    def chance(self) -> float:
        """The top-K recall of a random ranking: K / the pool's size."""
        return self.provenance["query_size"] / int(self.targets.pool_size.iloc[0])

    def label(self, method: str) -> str:
        if method == FREE_RANKER:
            return FREE_RANKER_LABEL
        head, objective = method.split("|")
        return f"{HEADS[head]} x {self.objectives[objective]}"


def read(out_dir: str | Path, softrank_tau: float, diffsort_steepness: float) -> LossRanking:
    """The tables in `out_dir`. `softrank_tau` and `diffsort_steepness` are the temperatures the default
    softrank and diffsort objectives ran with (losses.SOFTRANK_TAU, losses.DIFFSORT_STEEPNESS: reporting
    reads no training code, the notebook passes them) and name them in the tables."""
    out = Path(out_dir)
    measurements = pd.read_csv(out / "measurements.csv")
    named = {"sodeep": "sodeep (paper, eq. 6)", "margin": "margin (LL4AL)", "mse": "MSE on losses",
             "softrank": f"softrank (tau {softrank_tau:g})", "diffsort": f"diffsort (steepness {diffsort_steepness:g})",
             "gru-sorter": "eq. 6, gru sorter"}
    # in the order the experiment ran them (its measurements' rows), the free ranker's aside
    ran = measurements[measurements["head"] != "target"].objective.unique()
    objectives = {o: named.get(o, o.replace("softrank-tau", "softrank (tau ") + ")") for o in ran}
    return LossRanking(out, pd.read_csv(out / "summary.csv"), pd.read_csv(out / "paired.csv"),
                       pd.read_csv(out / "rank_error.csv"), pd.read_csv(out / "targets.csv"),
                       StudyLayout(out).provenance(), objectives)  # recorded where a study records its own


# --- in words


def pool_rows(frame: pd.DataFrame, setting: str, metric: str) -> pd.DataFrame:
    """The rows of `frame` (summary or paired) on the held-out pool, for one setting and metric."""
    return frame[(frame.split == "pool") & (frame.setting == setting) & (frame.metric == metric)]


def estimate(row) -> str:
    """'0.388 [0.362, 0.413]': a mean and its 95 % t-interval, three decimals (the shipped tables' form)."""
    return f"{row['mean']:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]"


def difference(row) -> str:
    """'+0.058 [+0.039, +0.077], p = 7.4e-05': a paired difference, its interval and its test."""
    return f"{row.mean_diff:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}], p = {row.p_value:.2g}"


def findings(ranking: LossRanking) -> str:
    """What the experiment found, in markdown, from its tables: the heads against the free ranker, the
    paper's claim this experiment reads (in the claims table's words), and how rare a hit on the highest
    losses is."""
    spearman = {s: pool_rows(ranking.summary, s, "spearman").set_index("method") for s in SETTINGS}
    free = spearman["frozen"].loc[FREE_RANKER]  # the same in both settings: no head is trained
    best_setting, best = max(((s, m) for s in SETTINGS for m in ranking.methods),
                             key=lambda sm: spearman[sm[0]].loc[sm[1], "mean"])
    best_mean = spearman[best_setting].loc[best, "mean"]
    paper = " and ".join(f"{estimate(spearman[s].loc[REFERENCE])} ({s})" for s in SETTINGS)
    gain = {s: pool_rows(ranking.paired, s, "spearman").set_index(["method", "reference"]).loc[(FREE_RANKER, REFERENCE)]
            for s in SETTINGS}
    if best_mean < free["mean"]:
        lead = ("**No head ranks the pool's losses as well as the target's own softmax entropy**, a free ranker:"
                f" Spearman {estimate(free)} against {paper} for the paper's head (L2R head x sodeep)")
    else:
        lead = ("**A head ranks the pool's losses better than the target's own softmax entropy**, a free ranker:"
                f" Spearman {estimate(spearman[best_setting].loc[best])} for {ranking.label(best)} ({best_setting})"
                f" against the entropy's {estimate(free)}; the paper's head (L2R head x sodeep): {paper}")
    lead += (f"; the best of the {len(ranking.methods)} heads x objectives reaches {best_mean:.3f}"
             f" ({ranking.label(best)}, {best_setting}). Seed by seed, the entropy minus the paper's head: "
             + " and ".join(f"{difference(gain[s])} ({s})" for s in SETTINGS) + ".")
    recall = pd.concat([pool_rows(ranking.summary, s, "topk_recall") for s in SETTINGS])
    heads = recall[recall.method.isin(ranking.methods)]["mean"]
    k = ranking.provenance["query_size"]
    hits = (f"**Top-K recall** (the share of the {k} truly highest losses among the {k} predicted highest):"
            f" {heads.min():.3f} to {heads.max():.3f} for the heads, {recall.set_index('method').loc[FREE_RANKER, 'mean'].iloc[0]:.3f}"
            f" for the entropy, {ranking.chance:.3f} for a random ranking.")
    return "\n".join([f"- {lead}", study_findings(ranking.out.parent, ranking.out.name), f"- {hits}"])


def run_line(ranking: LossRanking) -> str:
    """What ran, in one line: seeds, sizes, time and threads, commit."""
    record, sizes = ranking.provenance, ranking.targets.iloc[0].astype(int)
    return (f"**loss_ranking**: {ranking.seeds} seeds of a target trained on A = {sizes.train_size} labeled images;"
            f" frozen heads trained {record['frozen_epochs']} epochs over B = {sizes.held_size} more, in lists of"
            f" {record['batch_size']}; measured on a held-out pool of {sizes.pool_size} and the test set"
            f" ({sizes.test_size}), K = {record['query_size']}. {record['wall_s'] / 60:.1f} min wall,"
            f" {record['cpu_s'] / 60:.1f} CPU min on {record['threads']} thread(s); commit"
            f" {record['git']['commit'][:7]}{' (dirty)' if record['git']['dirty'] else ''}, finished"
            f" {record['finished'][:10]}.")


# --- tables


def _wide(ranking: LossRanking, frame: pd.DataFrame, methods: list[str], cell) -> pd.DataFrame:
    """One row per method, one column per (metric, setting): `cell(row)` of each."""
    table = frame.assign(cell=frame.apply(cell, axis=1)).pivot(index="method", columns=["setting", "metric"],
                                                                values="cell")
    table = table.reindex(index=methods, columns=pd.MultiIndex.from_product([SETTINGS, list(METRICS)]))
    table.index = pd.Index([ranking.label(m) for m in methods], name="head x objective")
    table.columns = [f"{METRICS[m]}, {s}" for s, m in table.columns]
    return table


def ranking_table(ranking: LossRanking, split: str = "pool") -> pd.DataFrame:
    """How well each head x objective ranks the losses of `split`: mean over seeds [95 % t-interval], the
    free ranker last."""
    part = ranking.summary[(ranking.summary.split == split) & ranking.summary.metric.isin(list(METRICS))]
    table = _wide(ranking, part, ranking.methods + [FREE_RANKER], estimate)
    where = "held-out pool" if split == "pool" else "test set"
    table.attrs["caption"] = (f"Predicted vs true losses on the {where}: mean of {ranking.seeds} seeds"
                              f" [95 % t-interval]; a random ranking: Spearman and Kendall 0, top-K recall"
                              f" {ranking.chance:.2f}")
    return table


def pool_table_markdown(ranking: LossRanking) -> str:
    """The pool's ranking table as a markdown table."""
    table = ranking_table(ranking, "pool")
    lines = [f"| {table.index.name} | " + " | ".join(table.columns) + " |", "|---" * (len(table.columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def write_pool_table(ranking: LossRanking) -> Path:
    """<out>/pool_table.md, which `make readme-results` copies into README.md's ranking block."""
    path = ranking.out / "pool_table.md"
    path.write_text(pool_table_markdown(ranking))
    return path


def paired_spearman_table(ranking: LossRanking, split: str = "pool") -> pd.DataFrame:
    """Each combination minus the paper's method, seed by seed: mean difference [95 % interval], the paired
    t-test's p and its verdict at p < 0.05 (every metric here is better higher)."""
    part = ranking.paired[(ranking.paired.split == split) & (ranking.paired.reference == REFERENCE)]
    methods = [m for m in ranking.methods + ranking.sweep + [FREE_RANKER] if m in set(part.method)]
    table = _wide(ranking, part, methods, lambda r: difference(r) + ("" if r.verdict == "not significant"
                                                                      else f" {r.verdict}"))
    table.attrs["caption"] = (f"Minus L2R head x sodeep (the paper's L2R-AL), seed by seed, "
                              f"{'held-out pool' if split == 'pool' else 'test set'}")
    return table


def heads_table(ranking: LossRanking) -> pd.DataFrame:
    """LossNet (all four blocks) minus the L2R head (last block), per objective, seed by seed (pool)."""
    paired = ranking.paired
    part = paired[(paired.split == "pool") & paired.method.str.startswith("lossnet|")
                  & (paired.reference == "l2r|" + paired.method.str.split("|").str[1])]
    objectives = [m.split("|")[1] for m in ranking.methods if m.startswith("lossnet|")]
    table = part.assign(cell=part.apply(lambda r: difference(r) + ("" if r.verdict == "not significant"
                                                                   else f" {r.verdict}"), axis=1),
                        objective=part.method.str.split("|").str[1])
    table = table.pivot(index="objective", columns=["setting", "metric"], values="cell").reindex(
        index=objectives, columns=pd.MultiIndex.from_product([SETTINGS, list(METRICS)]))
    table.index = pd.Index([ranking.objectives[o] for o in objectives], name="objective")
    table.columns = [f"{METRICS[m]}, {s}" for s, m in table.columns]
    table.attrs["caption"] = "LossNet (all blocks) minus the L2R head (last block), same objective, held-out pool"
    return table


def carry_over_table(ranking: LossRanking) -> pd.DataFrame:
    """Whether the frozen setting's conclusions carry over to joint training: the rank correlation of the
    combinations' means between the settings, and how many verdicts against the paper's method agree."""
    rows = []
    for split in SPLITS:
        for metric, name in METRICS.items():
            part = ranking.summary[(ranking.summary.split == split) & (ranking.summary.metric == metric)
                                   & ranking.summary.method.isin(ranking.methods)]
            means = part.pivot(index="method", columns="setting", values="mean")
            verdicts = ranking.paired[(ranking.paired.split == split) & (ranking.paired.metric == metric)
                                      & (ranking.paired.reference == REFERENCE)
                                      & ranking.paired.method.isin(ranking.methods)]
            verdicts = verdicts.pivot(index="method", columns="setting", values="verdict")
            rows.append({"split": split, "metric": name,
                         f"rank correlation of the {len(means)} means": round(means.frozen.corr(means.joint,
                                                                                                method="spearman"), 3),
                         "verdicts that agree": f"{int((verdicts.frozen == verdicts.joint).sum())} of {len(verdicts)}"})
    table = pd.DataFrame(rows)
    table.attrs["caption"] = "Frozen against joint: do the conclusions carry over?"
    return table


def targets_table(ranking: LossRanking) -> pd.DataFrame:
    """The targets over seeds: accuracy and mean loss of the final target on A (fitted), B, the pool and the
    test set, and the mean of the training losses recorded along its training (what the joint heads see)."""
    columns = [c for c in ranking.targets.columns if c.endswith(("accuracy", "mean_loss"))]
    table = ranking.targets[columns].describe().loc[["mean", "std", "min", "max"]].round(3)
    table.attrs["caption"] = f"The {ranking.seeds} targets: accuracy (%) and mean loss per split, over seeds"
    return table


def rank_errors(ranking: LossRanking) -> pd.DataFrame:
    """Per setting and relaxation on the L2R head: its mean |relaxed - exact rank| (positions) on the trained
    head's pool predictions, and the Spearman that head reaches on the pool (mean, 95 % interval)."""
    spearman = ranking.summary[(ranking.summary.split == "pool") & (ranking.summary.metric == "spearman")
                               & ranking.summary.method.str.startswith("l2r|")]
    errors = ranking.rank_errors.groupby(["setting", "objective"], sort=False).rank_error.agg(["mean", "std"])
    return errors.reset_index().merge(
        spearman.assign(objective=spearman.method.str.split("|").str[1])[["setting", "objective", "mean", "ci_low",
                                                                          "ci_high"]],
        on=["setting", "objective"], suffixes=("_rank_error", "_spearman"))


def rank_error_table(ranking: LossRanking) -> pd.DataFrame:
    table = rank_errors(ranking)
    table = table.assign(objective=table.objective.map(ranking.objectives)).round(3)
    table.attrs["caption"] = (f"Each relaxation's mean |rank error| (positions of {ranking.provenance['batch_size']})"
                              " on the L2R head's pool predictions, and the Spearman the head reaches")
    return table


def sorter_share_table(ranking: LossRanking) -> pd.DataFrame:
    """How much of the softrank - sodeep Spearman gap the sorter's rank error accounts for: the softrank
    sweep's Spearman read at the sorter's error (interpolated), against softrank at its own."""
    errors, rows = rank_errors(ranking), []
    for setting in SETTINGS:
        part = errors[errors.setting == setting].set_index("objective")
        sweep = part[part.index.str.startswith("softrank")].sort_values("mean_rank_error")
        sorter, softrank = part.loc["sodeep"], part.loc["softrank"]
        at_sorter = float(np.interp(sorter.mean_rank_error, sweep.mean_rank_error, sweep.mean_spearman))
        gap = softrank.mean_spearman - sorter.mean_spearman
        test = pool_rows(ranking.paired, setting, "spearman").set_index(["method", "reference"]).loc[
            ("l2r|softrank", REFERENCE)]
        rows.append({"setting": setting, "sorter's rank error": sorter.mean_rank_error,
                     "softrank's rank error": softrank.mean_rank_error,
                     "within the sweep": sweep.mean_rank_error.min() <= sorter.mean_rank_error
                     <= sweep.mean_rank_error.max(),
                     "gap softrank - sodeep": gap, "gap's 95 % interval": f"[{test.ci_low:+.3f}, {test.ci_high:+.3f}]",
                     "softrank at the sorter's error": at_sorter, "gap from the rank error": softrank.mean_spearman - at_sorter,
                     "rest (how the sorter errs)": gap - (softrank.mean_spearman - at_sorter)})
    table = pd.DataFrame(rows).round(3)
    table.attrs["caption"] = "The sorter's share of the softrank - sodeep gap (Spearman, held-out pool)"
    return table
