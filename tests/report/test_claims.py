"""The claims table: each verdict from the paired test of hand-made studies, the seeds a difference needs
from the power of the paired t-test (checked against published values and a simulation), and the
README's table equal to the one the shipped studies give."""
import json

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT
from l2ral_lib.paper import CLAIMS, Claim, Comparison
from l2ral_lib.report import claims, readme


def write_study(outputs, name, gains, seeds=(0, 1, 2, 3), metric="accuracy"):
    """A study where method m's curve is the reference's plus gains[m][seed] at every cycle."""
    rows = []
    for seed in seeds:
        for cycle in range(3):
            base = 50 + 10 * cycle + seed
            rows += [dict(dataset="cifar10", method="random", seed=seed, cycle=cycle, n_labeled=100 * (cycle + 1),
                          metric=metric, value=base)]
            rows += [dict(dataset="cifar10", method=m, seed=seed, cycle=cycle, n_labeled=100 * (cycle + 1),
                          metric=metric, value=base + g[seed]) for m, g in gains.items()]
    folder = outputs / name
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "params.json").write_text(json.dumps({"experiment": name, "seeds": list(seeds), "initial_labeled": 100,
                                                    "max_labeled": 300, "query_size": 100,
                                                    "strategies": ["random", *gains]}))


@pytest.fixture
def outputs(tmp_path):
    write_study(tmp_path, "study", {"better": [2.0, 2.5, 1.5, 2.2], "worse": [-3.0, -2.0, -2.5, -3.5],
                                    "noise": [1.0, -1.2, 0.5, -0.4]})
    return tmp_path


@pytest.mark.parametrize("method,verdict", [("better", claims.SUPPORTED), ("worse", claims.CONTRADICTED),
                                            ("noise", claims.NOT_SEPARABLE)])
def test_a_comparison_is_judged_by_the_paired_test(outputs, method, verdict):
    rows = claims.comparison_rows(outputs, Comparison("study", "accuracy", method, "random"))
    assert claims.comparison_verdict(rows) == verdict
    final = next(r for r in rows if r["quantity"] == "final")
    assert final["mean_diff"] == pytest.approx(np.mean({"better": [2.0, 2.5, 1.5, 2.2], "worse": [-3.0, -2.0, -2.5, -3.5],
                                                        "noise": [1.0, -1.2, 0.5, -0.4]}[method]))


def test_a_lower_is_better_metric_turns_the_verdict(tmp_path):
    """MAE: a method whose error is lower is the better one."""
    write_study(tmp_path, "crowd", {"lower": [-2.0, -2.5, -1.5, -2.2]}, metric="mae")
    rows = claims.comparison_rows(tmp_path, Comparison("crowd", "mae", "lower", "random"))
    assert claims.comparison_verdict(rows) == claims.SUPPORTED


def test_a_missing_study_or_method_is_said_not_dropped(outputs):
    assert claims.comparison_rows(outputs, Comparison("absent", "accuracy", "better", "random")) == []
    assert claims.comparison_rows(outputs, Comparison("study", "accuracy", "l2r-joint", "random")) == []
    table = claims.claims_table(outputs, (Claim("c", "II", (Comparison("absent", "accuracy", "a", "b"),
                                                            Comparison("study", "accuracy", "better", "random"))),))
    assert list(table.comparison) == [claims.NOT_RUN, claims.SUPPORTED]
    assert list(table.verdict.unique()) == [claims.SUPPORTED]  # what was not run does not weaken what was


@pytest.mark.parametrize("verdicts,overall", [
    ([claims.SUPPORTED, claims.SUPPORTED], claims.SUPPORTED),
    ([claims.SUPPORTED, claims.CONTRADICTED], claims.MIXED),
    ([claims.SUPPORTED, claims.NOT_SEPARABLE], "partly supported"),
    ([claims.CONTRADICTED, claims.NOT_SEPARABLE], "partly contradicted"),
    ([claims.NOT_SEPARABLE, claims.NOT_RUN], claims.NOT_SEPARABLE),
    ([claims.NOT_RUN], claims.NOT_RUN)])
def test_a_claims_verdict_combines_its_comparisons(verdicts, overall):
    assert claims.claim_verdict(verdicts) == overall


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


def test_the_loss_ranking_experiment_is_read_the_right_way_round(tmp_path):
    """Its paired.csv holds l2r|margin - l2r|sodeep; the claim states l2r|sodeep against l2r|margin."""
    (tmp_path / "ranking").mkdir()
    pd.DataFrame([dict(setting="frozen", split="pool", metric="spearman", method="l2r|margin", reference="l2r|sodeep",
                       n_seeds=10, mean_diff=-0.02, ci_low=-0.03, ci_high=-0.01, p_value=0.001, verdict="worse")]
                 ).to_csv(tmp_path / "ranking" / "paired.csv", index=False)
    rows = claims.comparison_rows(tmp_path, Comparison("ranking", "spearman", "l2r|sodeep", "l2r|margin", "frozen/pool"))
    assert rows[0]["mean_diff"] == 0.02 and (rows[0]["ci_low"], rows[0]["ci_high"]) == (0.01, 0.03)
    assert claims.comparison_verdict(rows) == claims.SUPPORTED


def test_a_claim_separated_in_one_study_and_open_in_another_says_both(outputs):
    """The README row names the scale that separates it before the remedy for the rest; a claim open
    everywhere gives the remedy alone, one separated everywhere its scale alone."""
    def settle(*methods):
        claim = Claim("c", "II", tuple(Comparison("study", "accuracy", m, "random") for m in methods))
        return claims.claims_summary_markdown(outputs, (claim,)).splitlines()[-1].rsplit(" | ", 1)[1].rstrip(" |")

    holds, remedy = settle("better"), settle("noise")
    assert holds.startswith("holds at 100-300 labels, 4 seeds") and remedy.endswith("budget (100-300 labels here)")
    assert settle("better", "noise") == f"study: {holds}; the rest: {remedy}"
    assert settle("noise", "better") == f"study: {holds}; the rest: {remedy}"


def test_every_claim_names_methods_and_metrics_its_studies_can_have():
    from l2ral_lib.strategies import list_strategies

    for claim in CLAIMS:
        for c in claim.comparisons:
            if not c.setting:
                assert {c.method, c.reference} <= set(list_strategies()), c
                assert c.metric in ("accuracy", "spearman", "pckh", "mae"), c


def test_readme_claims_are_the_shipped_evidence():
    """The README's claims table is regenerated from the committed studies: a verdict edited by hand, or a
    study rerun without `make readme-results`, fails here."""
    committed = (ROOT / "README.md").read_text()
    assert readme.rendered_claims(committed, ROOT / "outputs") == committed
    assert committed.index(readme.CLAIMS_START) < committed.index("make setup")  # the README opens with it
    assert (ROOT / "docs" / "claims.md").read_text() == readme.claims_page(ROOT / "outputs")
