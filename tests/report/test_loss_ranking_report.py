"""The loss-ranking experiment's report (l2ral_lib.report.loss_ranking, its figures report.ranking_figures: one
file, as they share the tables) on a hand-made tiny measurements table, summarised by the experiment's own
`summarise`: every number it shows is computed again here, independently."""
import json
import sys
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from helpers import ROOT  # noqa: E402
from l2ral_lib.losses import RANK_LOSSES  # noqa: E402
from l2ral_lib.report import loss_ranking as lr  # noqa: E402
from l2ral_lib.report import ranking_figures as rf  # noqa: E402

sys.path.insert(0, str(ROOT / "experiments"))
import loss_ranking as experiment  # noqa: E402

SEEDS = (0, 1, 2)
SWEEP = ("softrank-tau0.1", "gru-sorter")
# mean Spearman of each head x objective in both settings (the seeds scatter around it); the free ranker's below
SPEARMAN = {"l2r|sodeep": 0.40, "l2r|margin": 0.35, "l2r|mse": 0.20, "l2r|softrank": 0.38, "l2r|diffsort": 0.39,
            "lossnet|sodeep": 0.37, "lossnet|margin": 0.34, "lossnet|mse": 0.30, "lossnet|softrank": 0.36,
            "lossnet|diffsort": 0.36, "l2r|softrank-tau0.1": 0.39, "l2r|gru-sorter": 0.33}
FREE = 0.45


def measurements(free: float = FREE) -> pd.DataFrame:
    """The experiment's per-seed rows, in its order: the five objectives on both heads, the sweep, the entropy."""
    rng = np.random.default_rng(0)
    runs = [(h, o) for o in RANK_LOSSES for h in ("l2r", "lossnet")] + [("l2r", o) for o in SWEEP] + [("target", "entropy")]
    rows = []
    for head, objective in runs:
        centre = free if head == "target" else SPEARMAN[f"{head}|{objective}"]
        for setting in ("frozen", "joint"):
            for seed in SEEDS:
                for split in ("pool", "test"):
                    noise = rng.normal(0, 0.02, 3)
                    values = {"spearman": centre + noise[0], "kendall": 0.7 * centre + noise[1],
                              "topk_recall": 0.1 + centre / 10 + noise[2]}
                    if head == "target":  # no head is trained: one value per seed whatever the setting
                        values = {m: centre + 0.01 * seed + k / 10 for k, m in enumerate(values)}
                    rows += [dict(setting=setting, head=head, objective=objective, seed=seed, split=split,
                                  metric=metric, value=value) for metric, value in values.items()]
    return pd.DataFrame(rows)


def write_tables(out, table: pd.DataFrame) -> None:
    """What the experiment writes: its measurements, their summary and paired tests, rank errors, targets,
    provenance."""
    out.mkdir(parents=True, exist_ok=True)
    summary, paired = experiment.summarise(table, SimpleNamespace(dataset="cifar10", max_labeled=100))
    table.to_csv(out / "measurements.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    paired.to_csv(out / "paired.csv", index=False)
    # rank errors in positions: the sorter's 6, the sweep's softrank at tau 0.1 at 2 and the default at 4
    errors = {"sodeep": 6.0, "softrank": 4.0, "diffsort": 3.0, "softrank-tau0.1": 2.0, "gru-sorter": 1.0}
    pd.DataFrame([dict(setting=s, head="l2r", objective=o, seed=seed, rank_error=e + 0.1 * seed)
                  for o, e in errors.items() for s in ("frozen", "joint") for seed in SEEDS]
                 ).to_csv(out / "rank_error.csv", index=False)
    pd.DataFrame([{"seed": s, "train_size": 100, "held_size": 100, "pool_size": 400, "test_size": 300,
                   "train_accuracy": 50.0 + s, "test_accuracy": 40.0 - s, "train_mean_loss": 1.0, "test_mean_loss": 1.5}
                  for s in SEEDS]).to_csv(out / "targets.csv", index=False)
    (out / "provenance.json").write_text(json.dumps({
        "query_size": 40, "batch_size": 16, "frozen_epochs": 3, "threads": 1, "wall_s": 90.0, "cpu_s": 80.0,
        "git": {"commit": "0123456789abcdef", "dirty": False}, "finished": "2026-12-02T16:27:59+0000"}))


@pytest.fixture
def ranking(tmp_path):
    write_tables(tmp_path / "loss_ranking", measurements())
    return lr.read(tmp_path / "loss_ranking", softrank_tau=0.35, diffsort_steepness=28)


def seeds_of(table, method, setting, split, metric):
    head, objective = method.split("|")
    rows = table[(table["head"] == head) & (table.objective == objective) & (table.setting == setting)
                 & (table.split == split) & (table.metric == metric)]
    return rows.sort_values("seed").value.to_numpy()


def test_the_combinations_keep_the_experiments_order_and_names(ranking):
    assert ranking.methods == [f"{h}|{o}" for h in ("l2r", "lossnet") for o in RANK_LOSSES]
    assert ranking.sweep == ["l2r|softrank-tau0.1", "l2r|gru-sorter"]
    assert ranking.label("lossnet|softrank") == "LossNet (all blocks) x softrank (tau 0.35)"
    assert ranking.label("l2r|diffsort") == "L2R head (last block) x diffsort (steepness 28)"
    assert ranking.label("l2r|softrank-tau0.1") == "L2R head (last block) x softrank (tau 0.1)"
    assert ranking.label(lr.FREE_RANKER) == "free ranker: the target's softmax entropy (no head)"
    assert ranking.chance == 40 / 400 and ranking.seeds == 3


def test_a_pool_table_cell_is_the_mean_and_t_interval_over_seeds(ranking):
    table = lr.ranking_table(ranking, "pool")
    values = seeds_of(measurements(), "lossnet|margin", "joint", "pool", "kendall")
    low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy.stats.sem(values))
    expected = f"{values.mean():.3f} [{low:.3f}, {high:.3f}]"
    assert table.loc["LossNet (all blocks) x margin (LL4AL)", "Kendall, joint"] == expected
    # the ten combinations head by head, then the free ranker, named so
    assert list(table.index) == [ranking.label(m) for m in ranking.methods] + [lr.FREE_RANKER_LABEL]
    assert list(table.columns) == ["Spearman, frozen", "Kendall, frozen", "top-K recall, frozen", "Spearman, joint",
                                   "Kendall, joint", "top-K recall, joint"]


def test_pool_table_md_is_the_pool_table_as_markdown(ranking):
    path = lr.write_pool_table(ranking)
    assert path == ranking.out / "pool_table.md"
    lines = path.read_text().splitlines()
    assert lines[0] == ("| head x objective | Spearman, frozen | Kendall, frozen | top-K recall, frozen | Spearman, joint"
                        " | Kendall, joint | top-K recall, joint |")
    assert lines[1] == "|---" * 7 + "|" and len(lines) == 2 + 10 + 1
    free = seeds_of(measurements(), lr.FREE_RANKER, "frozen", "pool", "spearman")
    assert lines[-1].startswith(f"| free ranker: the target's softmax entropy (no head) | {free.mean():.3f} [")


def test_a_paired_cell_is_the_paired_t_test_against_the_papers_method(ranking):
    table, frame = lr.paired_spearman_table(ranking, "pool"), measurements()
    for method, setting, metric in (("l2r|mse", "frozen", "spearman"), ("lossnet|sodeep", "joint", "kendall")):
        diff = seeds_of(frame, method, setting, "pool", metric) - seeds_of(frame, lr.REFERENCE, setting, "pool", metric)
        p = scipy.stats.ttest_1samp(diff, 0).pvalue
        cell = table.loc[ranking.label(method), f"{lr.METRICS[metric]}, {setting}"]
        assert cell.startswith(f"{diff.mean():+.3f} [") and f"p = {p:.2g}" in cell
    assert table.loc[ranking.label("l2r|mse"), "Spearman, frozen"].endswith(" worse")  # 0.20 against 0.40
    # the sweep and the free ranker follow the ten; the paper's method is no row of its own
    assert list(table.index)[-3:] == [ranking.label(m) for m in ranking.sweep + [lr.FREE_RANKER]]
    assert ranking.label(lr.REFERENCE) not in table.index


def test_the_heads_table_is_lossnet_minus_the_l2r_head_per_objective(ranking):
    table, frame = lr.heads_table(ranking), measurements()
    diff = seeds_of(frame, "lossnet|mse", "frozen", "pool", "spearman") - seeds_of(frame, "l2r|mse", "frozen", "pool",
                                                                                    "spearman")
    assert table.loc["MSE on losses", "Spearman, frozen"].startswith(f"{diff.mean():+.3f} [")
    assert list(table.index) == ["sodeep (paper, eq. 6)", "margin (LL4AL)", "MSE on losses", "softrank (tau 0.35)",
                                 "diffsort (steepness 28)"]


def test_the_finding_is_stated_from_the_data(tmp_path, ranking):
    text = lr.findings(ranking)
    lead = text.splitlines()[0]
    free = seeds_of(measurements(), lr.FREE_RANKER, "frozen", "pool", "spearman").mean()
    paper = seeds_of(measurements(), lr.REFERENCE, "frozen", "pool", "spearman").mean()
    assert lead.startswith("- **No head ranks the pool's losses as well as the target's own softmax entropy**")
    assert f"Spearman {free:.3f} [" in lead and f"against {paper:.3f} [" in lead
    # the paper's claim this experiment reads, in the claims table's words
    assert "**A listwise ranking objective beats a pairwise one**" in text
    assert "0.100 for a random ranking" in text.splitlines()[-1]
    # a free ranker below the heads: the sentence turns
    write_tables(tmp_path / "other" / "loss_ranking", measurements(free=0.2))
    other = lr.read(tmp_path / "other" / "loss_ranking", 0.35, 28)
    assert lr.findings(other).startswith("- **A head ranks the pool's losses better than the target's own softmax"
                                         " entropy**")


def test_carry_over_counts_the_verdicts_that_agree(ranking):
    table = lr.carry_over_table(ranking).set_index(["split", "metric"])
    paired = ranking.paired[(ranking.paired.split == "pool") & (ranking.paired.metric == "spearman")
                            & (ranking.paired.reference == lr.REFERENCE) & ranking.paired.method.isin(ranking.methods)]
    verdicts = paired.pivot(index="method", columns="setting", values="verdict")
    assert table.loc[("pool", "Spearman"), "verdicts that agree"] == \
        f"{(verdicts.frozen == verdicts.joint).sum()} of 9"


def test_the_sorters_share_reads_the_sweep_at_the_sorters_error(ranking):
    table = lr.sorter_share_table(ranking).set_index("setting")
    summary = ranking.summary[(ranking.summary.split == "pool") & (ranking.summary.metric == "spearman")
                              & (ranking.summary.setting == "frozen")].set_index("method")["mean"]
    row = table.loc["frozen"]
    # the sorter (6.1 positions) lies beyond the sweep (2.1 and 4.1): the sweep's last point is read
    assert not row["within the sweep"] and row["sorter's rank error"] == pytest.approx(6.1)
    assert row["softrank at the sorter's error"] == pytest.approx(summary["l2r|softrank"], abs=5e-4)
    assert row["gap softrank - sodeep"] == pytest.approx(summary["l2r|softrank"] - summary["l2r|sodeep"], abs=5e-4)
    assert row["gap from the rank error"] + row["rest (how the sorter errs)"] == pytest.approx(
        row["gap softrank - sodeep"], abs=2e-3)


def test_the_quality_panel_marks_each_mean_and_interval(ranking):
    ax = rf.quality_plot(ranking, "topk_recall")
    assert [t.get_text() for t in ax.get_yticklabels()] == [ranking.label(m) for m in ranking.methods] + [
        lr.FREE_RANKER_LABEL]
    values = seeds_of(measurements(), "l2r|margin", "joint", "pool", "topk_recall")
    marks = [c.lines[0].get_xdata()[0] for c in ax.containers]  # errorbar containers: method by method, frozen first
    assert marks[2 * ranking.methods.index("l2r|margin") + 1] == pytest.approx(values.mean())
    chance = [line for line in ax.lines if line.get_label() == "random ranking"]
    assert chance and chance[0].get_xdata()[0] == pytest.approx(0.1)
    plt.close("all")


def test_the_figures_lay_out_a_panel_per_metric_or_setting(ranking):
    assert len(rf.quality_figure(ranking).axes) == 3 and len(rf.difference_figure(ranking).axes) == 3
    share = rf.sorter_share_figure(ranking)
    assert [ax.get_title() for ax in share.axes] == ["frozen, L2R head", "joint, L2R head"]
    line = share.axes[0].lines[0]  # the softrank sweep, by rank error
    assert list(line.get_xdata()) == pytest.approx([2.1, 4.1])
    plt.close("all")
