"""The claims table: each verdict from the paired tests of hand-made studies under the declared rule (AUBC
primary, Holm within a claim's comparisons in one study, 5 seeds on real data to count), the seeds a
difference needs from the power of the paired t-test (checked against published values and a simulation),
markdown a table parser reads cell by cell, and the README's table equal to the one the shipped studies give."""
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from markdown_it import MarkdownIt

from helpers import ROOT
from l2ral_lib.paper import CLAIMS, Claim, Comparison
from l2ral_lib.report import claims, readme, stats
from l2ral_lib.report.study import StudyResults

FIVE = (0, 1, 2, 3, 4)


def write_study(outputs, name, gains, seeds=FIVE, metric="accuracy", dataset="cifar10", last=None):
    """A study of 3 cycles where method m's curve is the reference's plus gains[m][seed] at every cycle,
    and plus last[m][seed] more at the final cycle only."""
    rows = []
    for seed in seeds:
        for cycle in range(3):
            base = 50 + 10 * cycle + seed
            rows += [dict(dataset=dataset, method="random", seed=seed, cycle=cycle, n_labeled=100 * (cycle + 1),
                          metric=metric, value=base)]
            rows += [dict(dataset=dataset, method=m, seed=seed, cycle=cycle, n_labeled=100 * (cycle + 1),
                          metric=metric, value=base + g[seed] + (last or {}).get(m, [0] * 10)[seed] * (cycle == 2))
                     for m, g in gains.items()]
    folder = outputs / name
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "params.json").write_text(json.dumps({"experiment": name, "dataset": dataset, "seeds": list(seeds),
                                                    "initial_labeled": 100, "max_labeled": 300, "query_size": 100,
                                                    "strategies": ["random", *gains]}))


BETTER = [2.0, 2.5, 1.5, 2.2, 1.8]
WORSE = [-3.0, -2.0, -2.5, -3.5, -2.8]
NOISE = [1.0, -1.2, 0.5, -0.4, 0.2]
BORDERLINE = [1.0, 2.0, 0.2, 1.5, 0.6]  # paired t-test p = 0.031 alone: fails Holm in a family of two


def claim(*comparisons):
    return Claim("c", "II", tuple(Comparison(study, "accuracy", m, r) for study, m, r in comparisons))


def verdict(outputs, *comparisons):
    table = claims.claims_table(outputs, (claim(*comparisons),))
    return table.verdict.iloc[0], table


@pytest.fixture
def outputs(tmp_path):
    write_study(tmp_path, "study", {"better": BETTER, "worse": WORSE, "noise": NOISE, "border": BORDERLINE,
                                    "border2": [b + 0.01 for b in BORDERLINE]})
    return tmp_path


@pytest.mark.parametrize("method,expected", [("better", claims.SUPPORTED), ("worse", claims.CONTRADICTED),
                                             ("noise", claims.NOT_SEPARABLE), ("border", claims.SUPPORTED)])
def test_a_family_of_one_is_the_paired_test_at_005(outputs, method, expected):
    overall, table = verdict(outputs, ("study", method, "random"))
    assert overall == expected
    diffs = np.array({"better": BETTER, "worse": WORSE, "noise": NOISE, "border": BORDERLINE}[method])
    assert table.p.iloc[0] == pytest.approx(scipy.stats.ttest_1samp(diffs, 0).pvalue)
    assert table["p (Holm)"].iloc[0] == pytest.approx(table.p.iloc[0])


def test_a_family_where_each_comparison_holds_alone_fails_holm_together(outputs):
    """Both raw p are about 0.03: each alone is supported, the two as one family are not (0.03 x 2 > 0.05)."""
    overall, table = verdict(outputs, ("study", "border", "random"), ("study", "border2", "random"))
    assert (table.p < stats.ALPHA).all() and (table["p (Holm)"] >= stats.ALPHA).all()
    assert overall == claims.NOT_SEPARABLE and set(table.state) == {claims.OPEN}


def test_a_claim_needs_every_comparison_of_its_family(outputs):
    assert verdict(outputs, ("study", "better", "random"), ("study", "noise", "random"))[0] == claims.NOT_SEPARABLE
    assert verdict(outputs, ("study", "better", "random"), ("study", "worse", "random"))[0] == claims.CONTRADICTED


def test_the_final_cycle_decides_nothing(tmp_path):
    """Final cycle: +4, +3, +3, +3, +3 (clearly better); the whole curve: a noisy gain at every cycle and a
    quarter of the late one (AUBC weight of the last of three cycles): the claim stays open."""
    write_study(tmp_path, "study", {"late": [2.0, -2.4, 1.0, -0.8, 0.4]}, last={"late": [2.0, 5.4, 2.0, 3.8, 2.6]})
    overall, table = verdict(tmp_path, ("study", "late", "random"))
    final_low = float(table.final.iloc[0].split("[")[1].split(",")[0])
    assert final_low > 0 and overall == claims.NOT_SEPARABLE


def test_a_study_of_fewer_than_five_seeds_is_exploratory_and_does_not_count(tmp_path):
    write_study(tmp_path, "small", {"better": BETTER[:3]}, seeds=(0, 1, 2))
    overall, table = verdict(tmp_path, ("small", "better", "random"))
    assert table["study verdict"].iloc[0] == claims.EXPLORATORY and overall == claims.UNTESTED
    assert table.p.iloc[0] < stats.ALPHA  # it would have been support: it is still not counted


def test_a_generated_image_study_is_no_evidence_whatever_its_seeds(tmp_path):
    write_study(tmp_path, "gen", {"better": BETTER}, dataset="mpii-generated")
    overall, table = verdict(tmp_path, ("gen", "better", "random"))
    assert table["study verdict"].iloc[0] == claims.NO_EVIDENCE and overall == claims.UNTESTED
    assert "no evidence (generated images): gen" in table["verdict by study"].iloc[0]


def test_studies_that_count_and_disagree_are_mixed_and_each_is_stated_with_its_scale(tmp_path):
    write_study(tmp_path, "one", {"m": BETTER})
    write_study(tmp_path, "two", {"m": WORSE})
    overall, table = verdict(tmp_path, ("one", "m", "random"), ("two", "m", "random"))
    assert overall == claims.MIXED
    assert table["verdict by study"].iloc[0] == ("**mixed**: **supported** at 100-300 labels (one, 5 seeds);"
                                                 " **contradicted** at 100-300 labels (two, 5 seeds); untested at the paper's 10,000 labels")


def test_a_lower_is_better_metric_turns_the_verdict(tmp_path):
    """MAE: a method whose error is lower is the better one."""
    write_study(tmp_path, "crowd", {"lower": [-g for g in BETTER]}, metric="mae", dataset="shanghaitech")
    table = claims.claims_table(tmp_path, (Claim("c", "II", (Comparison("crowd", "mae", "lower", "random"),)),))
    assert table.verdict.iloc[0] == claims.SUPPORTED


def test_a_missing_study_or_method_is_said_not_dropped(outputs):
    overall, table = verdict(outputs, ("absent", "a", "b"), ("study", "better", "random"))
    assert list(table["study verdict"]) == [claims.NOT_RUN, claims.SUPPORTED] and overall == claims.SUPPORTED
    assert "not run: absent" in table["verdict by study"].iloc[0]
    assert verdict(outputs, ("study", "l2r-joint", "random"))[0] == claims.UNTESTED


def test_seeds_needed_is_the_largest_of_the_open_comparisons_as_a_number(tmp_path):
    """Regression: the claim's remedy took the shortest *string* ("about 9" over "about 12"). A claim needs
    every comparison, so it needs the seeds of its hardest one, computed at alpha / m."""
    a, b = [1.0, 0.1, 1.4, 0.2, 0.9], [1.2, 0.0, 1.6, 0.3, 0.5]
    write_study(tmp_path, "study", {"a": a, "b": b})
    table = claims.claims_table(tmp_path, (claim(("study", "a", "random"), ("study", "b", "random")),))
    needed = [claims.seeds_for_power(np.mean(d), np.std(d, ddof=1), stats.ALPHA / 2, most=claims.MOST_SEEDS)
              for d in (a, b)]
    assert needed[0] < 10 <= needed[1] and list(table["seeds needed"]) == needed
    assert table["what would settle it"].iloc[0].startswith(f"about {max(needed)} seeds")


def test_the_seed_plan_detects_the_asked_effect_at_the_familys_level_from_the_paired_spread(tmp_path):
    """The plan's figure is for the effect asked (not the one observed), from the sd of the paired AUBC
    differences (ddof 1: here the per-seed gains, as every cycle gains the same), at 0.05 / m."""
    a, b = [1.0, 0.1, 1.4, 0.2, 0.9], [3.0, 2.0, 1.0, 2.6, 2.2]
    write_study(tmp_path, "study", {"a": a, "b": b})
    study = StudyResults(tmp_path / "study")
    alone = claims.seed_plan(study, "a", ["random"], effect=0.5).iloc[0]
    assert alone.n_seeds == 5 and alone.mean_diff == pytest.approx(np.mean(a))
    assert alone.sd == pytest.approx(np.std(a, ddof=1))
    assert alone.seeds_needed == claims.seeds_for_power(0.5, np.std(a, ddof=1), 0.05) == 12
    family = claims.seed_plan(study, "a", ["random", "b"], effect=0.5).set_index("reference")
    assert family.loc["random", "seeds_needed"] == claims.seeds_for_power(0.5, np.std(a, ddof=1), 0.025) == 15
    diff = np.subtract(a, b)
    assert family.loc["b", "sd"] == pytest.approx(np.std(diff, ddof=1))
    assert family.loc["b", "seeds_needed"] == claims.seeds_for_power(0.5, np.std(diff, ddof=1), 0.025)


def test_seeds_beyond_a_hundred_are_said_to_be_too_small_a_difference(outputs):
    overall, table = verdict(outputs, ("study", "noise", "random"))
    assert table["seeds needed"].iloc[0] == "> 100"
    assert table["what would settle it"].iloc[0].startswith("more than 100 seeds")


@pytest.mark.parametrize("paper,where", [((90.95, 90.45), "inside"), ((95.0, 90.0), "above"), ((90.0, 95.0), "below")])
def test_the_papers_margin_is_placed_against_our_final_interval(tmp_path, monkeypatch, paper, where):
    write_study(tmp_path, "study", {"l2r": [0.0, 1.0, 0.5, -0.2, 0.7]})  # final interval about [-0.3, +1.1]
    monkeypatch.setitem(claims.PAPER_FINAL, "cifar10", {"accuracy": {"l2r": paper[0], "random": paper[1]}})
    table = claims.claims_table(tmp_path, (claim(("study", "l2r", "random")),))
    assert table["paper margin"].iloc[0] == f"the paper's {paper[0] - paper[1]:+.3g} lies {where} our final interval"


def test_the_paper_scale_is_named_where_no_counting_study_reaches_it(tmp_path):
    write_study(tmp_path, "study", {"l2r": BETTER})
    text = claims.claims_table(tmp_path, (claim(("study", "l2r", "random")),))["verdict by study"].iloc[0]
    assert text == "**supported** at 100-300 labels (study, 5 seeds); untested at the paper's 10,000 labels"


def test_seeds_for_power_match_published_paired_t_values():
    """G*Power, paired (one-sample) t-test, two-sided alpha 0.05, power 0.8: d = 0.5 -> 34, d = 0.8 -> 15,
    d = 1 -> 10 (power 0.803)."""
    assert claims.seeds_for_power(0.5, 1.0) == 34
    assert claims.seeds_for_power(0.8, 1.0) == 15
    assert claims.seeds_for_power(2.0, 2.0) == 10 and claims.paired_power(10, 1.0) == pytest.approx(0.803, abs=1e-3)
    assert claims.seeds_for_power(0.0, 1.0) is None and claims.seeds_for_power(1.0, 0.0) is None


def test_paired_power_against_a_simulation():
    rng = np.random.default_rng(0)
    diffs = rng.normal(0.7, 1.0, size=(20_000, 8))
    t = diffs.mean(1) / (diffs.std(1, ddof=1) / np.sqrt(8))
    simulated = np.mean(np.abs(t) > 2.3646)  # t_{0.975, 7}
    assert claims.paired_power(8, 0.7) == pytest.approx(simulated, abs=0.01)


def write_ranking(tmp_path):
    """Its paired.csv holds l2r|margin - l2r|sodeep; the claim states l2r|sodeep against l2r|margin."""
    (tmp_path / "loss_ranking").mkdir()
    pd.DataFrame([dict(setting="frozen", split="pool", metric="spearman", method="l2r|margin", reference="l2r|sodeep",
                       n_seeds=10, mean_diff=-0.02, ci_low=-0.03, ci_high=-0.01, p_value=0.001, verdict="worse")]
                 ).to_csv(tmp_path / "loss_ranking" / "paired.csv", index=False)
    return Claim("listwise", "III", (Comparison("loss_ranking", "spearman", "l2r|sodeep", "l2r|margin", "frozen/pool"),))


def test_the_loss_ranking_experiment_is_read_the_right_way_round(tmp_path):
    table = claims.claims_table(tmp_path, (write_ranking(tmp_path),))
    assert table.primary.iloc[0] == "frozen heads, pool +0.02 [+0.01, +0.03]"
    assert table.verdict.iloc[0] == claims.SUPPORTED


def _table_cells(markdown: str) -> list[int]:
    """Cells per row of every table in `markdown`, as a CommonMark + GFM table parser reads them."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    counts, row = [], None
    for token in tokens:
        if token.type == "tr_open":
            row = 0
        elif token.type in ("th_open", "td_open"):
            row += 1
        elif token.type == "tr_close":
            counts.append(row)
    return counts


def test_generated_tables_keep_their_cells_when_the_text_holds_pipes(tmp_path):
    """Regression: `l2r|sodeep` in a cell split the row ("garbage" in README.md and docs/claims.md)."""
    ranking = write_ranking(tmp_path)
    pipe = Claim("a | b", "II | III", ranking.comparisons)
    for text in (claims.claims_markdown(tmp_path, (pipe,)), claims.claims_summary_markdown(tmp_path, (pipe,))):
        cells = _table_cells(text)
        assert len(cells) == 2 and len(set(cells)) == 1, text


def test_the_shipped_generated_markdown_parses_cell_for_cell():
    for path in (ROOT / "README.md", ROOT / "docs" / "claims.md", ROOT / "docs" / "results.md"):
        if not path.exists():
            continue
        text = path.read_text()
        for table in text.split("\n\n"):
            if table.lstrip().startswith("|"):
                cells = _table_cells(table)
                assert cells and len(set(cells)) == 1, (path.name, table[:200])


def test_replication_shows_both_runs_and_counts_the_flips(tmp_path):
    write_study(tmp_path, "first", {"entropy": BETTER, "l2r": NOISE})
    write_study(tmp_path, "second", {"entropy": NOISE, "l2r": NOISE})
    text = claims.replication_markdown(tmp_path, "first", "second")
    flips = {line.split(" | ")[0] + " " + line.split(" | ")[1]: line.split(" | ")[-1].rstrip(" |")
             for line in text.splitlines()[2:] if line.startswith("| ")}
    # entropy separates from both others in the first run only; Random and L2R-AL in neither
    assert flips == {"| Entropy - Random AUBC": "**yes**", "| Entropy - Random final": "**yes**",
                     "| L2R-AL - Random AUBC": "no", "| L2R-AL - Random final": "no",
                     "| L2R-AL - Entropy AUBC": "**yes**", "| L2R-AL - Entropy final": "**yes**"}
    assert text.endswith("4 of 6 verdicts flip between the two runs (accuracy, unadjusted p < 0.05).")
    assert len(set(_table_cells(text))) == 1


def test_every_claim_names_methods_and_metrics_its_studies_can_have():
    from l2ral_lib.strategies import list_strategies

    for c in (c for cl in CLAIMS for c in cl.comparisons if not c.setting):
        assert {c.method, c.reference} <= set(list_strategies()), c
        assert c.metric in ("accuracy", "spearman", "pckh", "mae"), c


def test_readme_claims_are_the_shipped_evidence():
    """The README's claims table is regenerated from the committed studies: a verdict edited by hand, or a
    study rerun without `make readme-results`, fails here."""
    committed = (ROOT / "README.md").read_text()
    assert readme.rendered_claims(committed, ROOT / "outputs") == committed
    assert (ROOT / "docs" / "claims.md").read_text() == readme.claims_page(ROOT / "outputs")


def test_a_studys_findings_name_its_verdict_its_numbers_and_the_claims(tmp_path):
    write_study(tmp_path, "one", {"m": BETTER, "n": NOISE})
    write_study(tmp_path, "two", {"m": WORSE})
    pair = claim(("one", "m", "random"), ("two", "m", "random"))
    text = claims.study_findings(tmp_path, "one", (pair, claim(("two", "m", "random"))))
    low, high = scipy.stats.ttest_1samp(BETTER, 0).confidence_interval(0.95)
    assert text.splitlines() == [
        f"- **c** (II). Here: **supported** (100-300 labels, 5 seeds): m vs Random AUBC +2 [{low:+.3g}, {high:+.3g}]"
        f" (p Holm {claims._p(scipy.stats.ttest_1samp(BETTER, 0).pvalue)}). Over every study: **mixed**: **supported**"
        " at 100-300 labels (one, 5 seeds); **contradicted** at 100-300 labels (two, 5 seeds); untested at the"
        " paper's 10,000 labels."]
    assert claims.study_findings(tmp_path, "absent", (pair,)).startswith("No claim of the paper reads absent")


def test_a_study_still_running_counts_the_seeds_it_finished(tmp_path):
    """Params promising 10 seeds, one finished: exploratory with 1 seed, not "not run", not "10 seeds"."""
    write_study(tmp_path, "running", {"m": [1.0]}, seeds=(0,))
    record = json.loads((tmp_path / "running" / "params.json").read_text())
    (tmp_path / "running" / "params.json").write_text(json.dumps({**record, "seeds": list(range(10))}))
    overall, table = verdict(tmp_path, ("running", "m", "random"))
    assert table["study verdict"].iloc[0] == claims.EXPLORATORY and overall == claims.UNTESTED
    assert table["verdict by study"].iloc[0] == "**untested**: exploratory: running (1 seed)"


def test_a_seed_plan_counts_the_family_at_its_fewest_seeds_and_says_the_range(tmp_path):
    """strategy_seeds: 'better' on 8 seeds, 'capped' on the first 4. The family's comparison against 'capped'
    has 4 seeds, so the family is exploratory, however clear the 8-seed comparison; with 'capped' on 5 it
    counts, and the cell names both counts."""
    seeds = tuple(range(8))
    gains = {"better": BETTER + [2.1, 1.9, 2.3], "capped": [g - 3.0 for g in BETTER] + [0.0] * 3}
    claimed = (("plan", "better", "random"), ("plan", "better", "capped"))
    for cap, expected in ((4, claims.EXPLORATORY), (5, claims.SUPPORTED)):
        outputs = tmp_path / str(cap)
        write_study(outputs, "plan", gains, seeds=seeds)
        table = pd.read_csv(outputs / "plan" / "results.csv")
        table[(table.method != "capped") | (table.seed < cap)].to_csv(outputs / "plan" / "results.csv", index=False)
        record = json.loads((outputs / "plan" / "params.json").read_text())
        (outputs / "plan" / "params.json").write_text(json.dumps({**record, "strategy_seeds": {"capped": cap}}))
        overall, found = verdict(outputs, *claimed)
        assert found["study verdict"].iloc[0] == expected, found.T
        assert found.scale.iloc[0] == f"100-300 labels, {cap}-8 seeds"
        said = found["verdict by study"].iloc[0]
        assert said == ("**untested**: exploratory: plan (4-8 seeds)" if cap == 4 else
                        "**supported** at 100-300 labels (plan, 5-8 seeds); untested at the paper's 10,000 labels"), said
    assert overall == claims.SUPPORTED
