"""Every claim of the paper (paper.CLAIMS) beside the project's evidence: for each comparison, the paired
difference of the shipped study (seed by seed: every method of a seed shares its initial set, weights and
subsets) with its 95 % interval, and a verdict in plain words. A comparison supports the claim where the
paired t-test finds the claimed method better (p < 0.05) on the whole curve (AUBC) or at the final cycle
and worse on neither; it contradicts it where the test finds it worse and better on neither; else the two
are not separable at this scale. What would settle an unseparated comparison is the number of seeds that
would give its observed difference 80 % power in the same paired t-test (noncentral t, the observed sd
of the paired differences)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import scipy.stats

from ..paper import CLAIMS, Claim, Comparison
from . import stats
from .labels import method_label

SUPPORTED, CONTRADICTED, NOT_SEPARABLE, MIXED, NOT_RUN = ("supported", "contradicted", "not separable at this scale",
                                                         "mixed", "not run yet")
POWER = 0.8


def paired_power(n: int, effect: float, alpha: float = stats.ALPHA) -> float:
    """Power of the two-sided paired t-test with `n` pairs for a true standardised difference `effect`
    (mean / sd of the paired differences)."""
    critical = scipy.stats.t.ppf(1 - alpha / 2, n - 1)
    shift = abs(effect) * math.sqrt(n)
    return float(scipy.stats.nct.sf(critical, n - 1, shift) + scipy.stats.nct.cdf(-critical, n - 1, shift))


def seeds_for_power(mean_diff: float, sd: float, alpha: float = stats.ALPHA, power: float = POWER,
                    most: int = 10_000) -> int | None:
    """The fewest seeds whose paired two-sided t-test finds a true difference `mean_diff` with this
    `power`, for paired differences of standard deviation `sd`; None for no difference (or beyond `most`)."""
    if not sd > 0 or not abs(mean_diff) > 0:
        return None
    return next((n for n in range(2, most + 1) if paired_power(n, mean_diff / sd, alpha) >= power), None)


def _study_rows(outputs: Path, c: Comparison) -> list[dict]:
    """The paired differences (method - reference) of a dataset study, final cycle and AUBC."""
    folder = outputs / c.study
    if not (folder / "results.csv").is_file() or not (folder / "params.json").is_file():
        return []
    table, params = pd.read_csv(folder / "results.csv"), json.loads((folder / "params.json").read_text())
    if not {c.method, c.reference} <= set(table.method):
        return []
    grid = stats.Grid.of(table, c.metric, params)
    paired = stats.paired_differences(table, c.metric, c.reference, grid)
    values = stats.per_seed(table, c.metric, grid)
    rows = []
    for r in paired[paired.method == c.method].itertuples():
        part = values[values.quantity == r.quantity].pivot(index="seed", columns="method", values="value")
        diff = (part[c.method] - part[c.reference]).dropna()
        rows.append(dict(quantity="AUBC" if r.quantity == "aubc" else "final", n_seeds=r.n_seeds, mean_diff=r.mean_diff,
                         ci_low=r.ci_low, ci_high=r.ci_high, verdict=r.verdict, sd=float(diff.std(ddof=1)),
                         budget=f"{params['initial_labeled']}-{params['max_labeled']} labels", complete=r.complete))
    return rows


def _ranking_rows(outputs: Path, c: Comparison) -> list[dict]:
    """The loss-ranking experiment's paired difference (its paired.csv holds method - reference rows; a
    comparison stated the other way round is flipped)."""
    path = outputs / c.study / "paired.csv"
    if not path.is_file():
        return []
    setting, split = c.setting.split("/")
    table = pd.read_csv(path)
    table = table[(table.setting == setting) & (table.split == split) & (table.metric == c.metric)]
    for method, reference, sign in ((c.method, c.reference, 1), (c.reference, c.method, -1)):
        row = table[(table.method == method) & (table.reference == reference)]
        if len(row):
            r = row.iloc[0]
            verdict = r.verdict if sign > 0 else {"better": "worse", "worse": "better"}.get(r.verdict, r.verdict)
            low, high = sorted((sign * r.ci_low, sign * r.ci_high))
            half = (r.ci_high - r.ci_low) / 2
            sd = half / scipy.stats.t.ppf(1 - stats.ALPHA / 2, r.n_seeds - 1) * math.sqrt(r.n_seeds)
            return [dict(quantity=f"{setting} heads, {split}", n_seeds=int(r.n_seeds), mean_diff=sign * r.mean_diff,
                         ci_low=low, ci_high=high, verdict=verdict, sd=float(sd), budget="smoke-size targets",
                         complete=True)]
    return []


def comparison_rows(outputs: str | Path, c: Comparison) -> list[dict]:
    outputs = Path(outputs)
    return _ranking_rows(outputs, c) if c.setting else _study_rows(outputs, c)


def comparison_verdict(rows: list[dict]) -> str:
    verdicts = {r["verdict"] for r in rows}
    if not rows:
        return NOT_RUN
    if "better" in verdicts and "worse" not in verdicts:
        return SUPPORTED
    if "worse" in verdicts and "better" not in verdicts:
        return CONTRADICTED
    return MIXED if verdicts >= {"better", "worse"} else NOT_SEPARABLE


def claim_verdict(verdicts: list[str]) -> str:
    """All run comparisons agree: their verdict; support and contradiction both: mixed; else not separable."""
    run = [v for v in verdicts if v != NOT_RUN]
    if not run:
        return NOT_RUN
    if len(set(run)) == 1:
        return run[0]
    if SUPPORTED in run and CONTRADICTED in run or MIXED in run:
        return MIXED
    if SUPPORTED in run:
        return "partly supported"
    if CONTRADICTED in run:
        return "partly contradicted"
    return NOT_SEPARABLE


def _difference(r: dict) -> str:
    return f"{r['quantity']} {r['mean_diff']:+.3g} [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]"


def settle(c: Comparison, rows: list[dict], verdict: str) -> str:
    if verdict == NOT_RUN:
        return f"run {c.study}"
    scale = rows[0]["budget"]
    if verdict in (SUPPORTED, CONTRADICTED):
        return f"holds at {scale}, {rows[0]['n_seeds']} seeds; the paper's scale would confirm it"
    needed = [n for n in (seeds_for_power(r["mean_diff"], r["sd"]) for r in rows) if n]
    more = f"about {min(needed)} seeds would separate the observed difference (80 % power)" if needed else \
        "no difference observed"
    return f"{more}, or the paper's budget ({scale} here)"


def claims_table(outputs: str | Path = "outputs", claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """One row per comparison: the claim, where the paper makes it, the study and metric, the paired
    differences (claimed method - other, in the metric's units), the comparison's verdict and the claim's."""
    rows = []
    for claim in claims:
        found = [(c, comparison_rows(outputs, c)) for c in claim.comparisons]
        verdicts = [comparison_verdict(r) for _, r in found]
        overall = claim_verdict(verdicts)
        for (c, r), verdict in zip(found, verdicts):
            seeds = f"{r[0]['n_seeds']} seeds" if r else ""
            rows.append({"claim": claim.text, "paper": claim.where, "verdict": overall,
                         "evidence": f"{c.study}, {c.metric}: {method_label(c.method)} vs {method_label(c.reference)}",
                         "paired difference [95% CI]": "; ".join(map(_difference, r)) + (f" ({seeds})" if r else "") or "-",
                         "comparison": verdict, "what would settle it": settle(c, r, verdict)})
    return pd.DataFrame(rows)


def claims_markdown(outputs: str | Path = "outputs") -> str:
    """Every comparison of every claim as markdown (docs/claims.md), a claim's text and verdict on its
    first comparison's row only."""
    table = claims_table(outputs)
    lines = ["| claim (paper) | verdict | evidence | paired difference [95% CI] | this comparison | what would settle it |",
             "|---|---|---|---|---|---|"]
    previous = None
    for r in table.itertuples(index=False):
        first = r.claim != previous
        previous = r.claim
        head = f"{r.claim} ({r.paper})" if first else ""
        verdict = f"**{r.verdict}**" if first else ""
        lines.append(f"| {head} | {verdict} | {r.evidence} | {r[4]} | {r.comparison} | {r[6]} |")
    return "\n".join(lines)


def _brief(rows: pd.DataFrame) -> str:
    """One claim's evidence in a line: its comparisons if two or fewer, else their verdicts counted and the
    clearest one (the largest AUBC difference relative to its interval)."""
    run = rows[rows.comparison != NOT_RUN]
    if run.empty:
        return "not run yet: " + ", ".join(sorted(set(rows.evidence.str.split(",").str[0])))
    shown = run if len(run) <= 2 else run.iloc[[0]]
    text = "; ".join(f"{r.evidence}: {r[4]}" for r in shown.itertuples(index=False))
    if len(run) > 2:
        counts = run.comparison.value_counts()
        studies = ", ".join(dict.fromkeys(run.evidence.str.split(",").str[0]))
        text = (f"{len(run)} comparisons ({studies}): " + ", ".join(f"{n} {v}" for v, n in counts.items())
                + f"; first: {text}")
    missing = rows[rows.comparison == NOT_RUN]
    return text + (f" (not run yet: {', '.join(sorted(set(missing.evidence.str.split(',').str[0])))})" if len(missing) else "")


def _claim_settle(rows: pd.DataFrame) -> str:
    """What would settle a claim: for its unseparated comparisons the shortest remedy; where others are
    separated already, first the scale at which they are (a claim settled by the budget study and open in a
    smoke study says both, not the smoke study's remedy alone)."""
    remedies = rows.loc[rows.comparison == NOT_SEPARABLE, "what would settle it"]
    separated = rows[rows.comparison.isin((SUPPORTED, CONTRADICTED))]
    if remedies.empty:
        return rows["what would settle it"].iloc[0]
    rest = min(remedies, key=len)
    if separated.empty:
        return rest
    first = separated.iloc[0]
    return f"{first.evidence.split(',')[0]}: {first['what would settle it']}; the rest: {rest}"


def claims_summary_markdown(outputs: str | Path = "outputs", claims: tuple[Claim, ...] = CLAIMS) -> str:
    """One row per claim (the README's table): its verdict, its evidence in brief, what would settle it;
    every comparison is in docs/claims.md."""
    table = claims_table(outputs, claims)
    lines = ["| claim (paper) | verdict | evidence: claimed - other, paired [95% CI] | what would settle it |",
             "|---|---|---|---|"]
    for claim, rows in table.groupby("claim", sort=False):
        lines.append(f"| {claim} ({rows.paper.iloc[0]}) | **{rows.verdict.iloc[0]}** | {_brief(rows)} | {_claim_settle(rows)} |")
    return "\n".join(lines)
