"""Every claim of the paper (paper.CLAIMS) beside the project's evidence, judged by one rule for every claim,
fixed in code before any study is read:

- **Primary endpoint: AUBC**, the whole learning curve. The final cycle is shown beside it and decides
  nothing. The loss-ranking experiment has no curve: its endpoint is the held-out pool's Spearman.
- **Family: a claim's comparisons within one study.** Every claim says its method is better than each
  reference, so it holds in a study only where every comparison of the family finds the claimed method
  better: two-sided paired t-test over seeds (every method of a seed shares its initial set, weights and
  subsets), p Holm-adjusted within the family, below 0.05.
- **What counts:** a study of at least `MIN_SEEDS` seeds on real data. Fewer seeds: exploratory; generated
  images: no evidence. Both are shown with their numbers; neither counts for or against a claim.
- **Verdict of a study:** supported (every comparison holds), contradicted (one or more is significantly
  the other way), not separable (else). **Of a claim:** the verdict of the studies that count where they
  agree, else mixed (the per-study wording says where); with none that counts, untested. Each is stated
  with its scale, and the paper's scale is named where no study reaches it.
- The paper's own margin (its final-cycle difference) is set beside our final-cycle interval.
- **Seeds needed** for a comparison not separated: the fewest seeds at which the paired t-test has 80 %
  power for the observed AUBC difference and spread at level 0.05 / m (m: the family's size, Holm's
  strictest step). A claim needs every comparison of its family, so its figure is the largest of them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from ..paper import CLAIMS, PAPER_FINAL, PAPER_FINAL_LABELED, Claim
from . import stats
from .evidence import EXPLORATORY, MIN_SEEDS, NO_EVIDENCE, Evidence, StudyScope, evidence
from .labels import method_label, ordered
from .study import Outputs, StudyResults

SUPPORTED, CONTRADICTED, NOT_SEPARABLE, MIXED = "supported", "contradicted", "not separable", "mixed"
NOT_RUN, UNTESTED = "not run", "untested"
HOLDS, FAILS, OPEN = "holds", "fails", "open"  # one comparison after Holm: claimed way, the other way, neither
POWER = 0.8
MOST_SEEDS = 100  # beyond this a seeds-needed figure says only that the difference is too small to separate
LEGEND = (f"Primary endpoint AUBC (final cycle shown, not deciding); family = a claim's comparisons in one study,"
          f" two-sided paired t-tests over seeds, Holm-adjusted. **supported**: every comparison of the family"
          f" better at adjusted p < {stats.ALPHA}; **contradicted**: one or more significantly worse;"
          f" **not separable**: neither; **exploratory**: fewer than {MIN_SEEDS} seeds, counts for nothing;"
          f" **no evidence**: generated images; **mixed**: the studies that count disagree; **untested**: no study"
          f" counts.")


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


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


def seed_plan(study: StudyResults, claimed: str, references: list[str], effect: float,
              seeds: list[int] | None = None) -> pd.DataFrame:
    """How many seeds a study needs to detect a true AUBC difference of `effect` (in the metric's units)
    between `claimed` and each reference with 80 % power, from the paired spread its finished seeds (or
    those of `seeds`: a pilot's, read again once the study has grown) show:
    the two-sided paired t-test at level 0.05 / m (m = len(references): Holm's strictest step, as the
    claim's family is judged). One row per reference: seeds, the observed mean difference and the sd of
    the paired differences, the seeds needed (None: more than MOST_SEEDS)."""
    values = stats.per_seed(study.table, study.metric, study.grid)
    by_seed = values[values.quantity == "aubc"].pivot(index="seed", columns="method", values="value")
    if seeds is not None:
        by_seed = by_seed[by_seed.index.isin(seeds)]
    rows = []
    for reference in references:
        pair = by_seed.reindex(columns=[claimed, reference]).dropna()
        diff = (pair[claimed] - pair[reference]).to_numpy(float)
        sd = float(diff.std(ddof=1)) if len(diff) > 1 else float("nan")
        rows.append(dict(reference=reference, n_seeds=len(diff), mean_diff=float(diff.mean()) if len(diff) else math.nan,
                         sd=sd, seeds_needed=seeds_for_power(effect, sd, stats.ALPHA / len(references),
                                                             most=MOST_SEEDS)))
    return pd.DataFrame(rows)


def escape(text) -> str:
    """A markdown table cell: `|` would end the cell, a newline the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table with every cell escaped."""
    lines = ["| " + " | ".join(map(escape, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(escape, row)) + " |" for row in rows])


@dataclass(frozen=True)
class Family:
    """A claim's comparisons in one study, Holm-adjusted together, and the study's verdict on the claim."""

    study: str
    evidence: tuple[Evidence, ...]
    adjusted: tuple[float, ...]
    states: tuple[str, ...]
    verdict: str

    @property
    def info(self) -> StudyScope | None:
        return family_scope(self.evidence)

    def seeds_text(self) -> str:
        """'5 seeds', or '14-18 seeds' where a seed plan gave its comparisons different numbers."""
        counts = sorted({e.study.n_seeds for e in self.evidence if e.run and e.study is not None})
        return f"{counts[0]}-{counts[-1]} seeds" if len(counts) > 1 else _seeds(self.info.n_seeds)

    def seeds_needed(self) -> int | None:
        """The largest of its open comparisons' seeds for 80 % power at 0.05 / m; None where one is beyond
        MOST_SEEDS (no practical number) or none is open."""
        needed = [seeds_for_power(e.primary.mean_diff, e.primary.sd, stats.ALPHA / len(self.evidence), most=MOST_SEEDS)
                  for e, s in zip(self.evidence, self.states) if s == OPEN]
        return None if not needed or None in needed else max(needed)


def family_scope(found) -> StudyScope | None:
    """The study as a claim's family sees it: the scope of its run comparison with the fewest seeds (a seed
    plan gives each comparison its own number; the family counts only where every comparison does), else
    the first known."""
    ran = [e.study for e in found if e.run and e.study is not None]
    known = ran or [e.study for e in found if e.study is not None]
    return min(known, key=lambda scope: scope.n_seeds) if known else None


def judge(study: str, found: list[Evidence]) -> Family:
    """The rule of this module's docstring, for one study's part of a claim."""
    p = [e.primary.p_value if e.run else math.nan for e in found]
    adjusted = stats.holm(p)
    states = tuple(NOT_RUN if not e.run else OPEN if not a < stats.ALPHA else HOLDS if e.claimed_way() else FAILS
                   for e, a in zip(found, adjusted))
    info = family_scope(found)
    if info is not None and info.standing and info.n_seeds > 0:
        verdict = info.standing  # exploratory (a seed or a few finished) or generated, whatever else is missing
    elif info is None or NOT_RUN in states:
        verdict = NOT_RUN
    elif FAILS in states:
        verdict = CONTRADICTED
    else:
        verdict = SUPPORTED if set(states) == {HOLDS} else NOT_SEPARABLE
    return Family(study, tuple(found), tuple(adjusted), states, verdict)


def families(outputs: Outputs, claim: Claim) -> list[Family]:
    by_study: dict[str, list[Evidence]] = {}
    for c in claim.comparisons:
        by_study.setdefault(c.study, []).append(evidence(outputs, c))
    return [judge(study, found) for study, found in by_study.items()]


def _paper_scale(fams: list[Family]) -> str | None:
    """The paper's scale where no study that counts reaches it: its final labeled-set size for the claim's
    dataset, or its full-size targets for the loss-ranking experiment; None where one reaches it."""
    counting = [f.info for f in fams if f.info and f.info.counts]
    sizes = [PAPER_FINAL_LABELED.get(f.info.dataset) for f in fams if f.info and f.info.max_labeled]
    size = max((s for s in sizes if s), default=None)
    if size is None:
        return "the paper's full-size targets" if counting and all(s.max_labeled is None for s in counting) else None
    reached = any(s.max_labeled is not None and s.max_labeled >= size for s in counting)
    return None if reached else f"the paper's {size:,} labels"


def claim_verdict(fams: list[Family]) -> str:
    counting = {f.verdict for f in fams if f.verdict in (SUPPORTED, CONTRADICTED, NOT_SEPARABLE)}
    if not counting:
        return UNTESTED
    return counting.pop() if len(counting) == 1 else MIXED


def verdict_text(fams: list[Family]) -> str:
    """The claim's verdict per study and scale, e.g. "**supported** at 1,000-5,000 labels (cifar10-budget, 5
    seeds); untested at the paper's 10,000 labels; exploratory: cifar10-smoke (3 seeds)"; led by the claim's
    verdict where that is no study's (mixed, untested)."""
    parts = [f"**{f.verdict}** at {f.info.scale} ({f.study}, {f.seeds_text()})" for f in fams
             if f.verdict in (SUPPORTED, CONTRADICTED, NOT_SEPARABLE)]
    scale = _paper_scale(fams)
    if scale and parts:
        parts.append(f"untested at {scale}")
    for standing in (EXPLORATORY, NO_EVIDENCE, NOT_RUN):
        named = [f"{f.study} ({f.seeds_text()})" if f.info and standing != NOT_RUN else f.study
                 for f in fams if f.verdict == standing]
        if named:
            parts.append(f"{standing}: {', '.join(named)}")
    lead = claim_verdict(fams)
    return (f"**{lead}**: " if lead in (MIXED, UNTESTED) else "") + "; ".join(parts)


def settle_text(fams: list[Family]) -> str:
    """What would settle the claim: the paper's scale where a counting study has a verdict below it; for an
    open family the seeds its comparisons need (the largest: the claim needs all of them)."""
    verdict, scale = claim_verdict(fams), _paper_scale(fams)
    if verdict in (SUPPORTED, CONTRADICTED):
        return f"a study at {scale}" if scale else "settled at the paper's scale"
    if verdict == MIXED:
        return "the studies that count disagree; each verdict holds at its own scale"
    candidates = [f for f in fams if f.verdict == NOT_SEPARABLE] or \
        [f for f in fams if f.verdict == EXPLORATORY]
    if not candidates:
        return f"a study of at least {MIN_SEEDS} seeds on real data"
    best = max(candidates, key=lambda f: f.info.n_seeds)
    needed = best.seeds_needed()
    where = f"from the spread in {best.study}, Holm over {len(best.evidence)}"
    more = (f"about {needed} seeds (80 % power at the observed AUBC differences; {where})" if needed else
            f"more than {MOST_SEEDS} seeds: an observed difference is too small to separate ({where})")
    return more if verdict == NOT_SEPARABLE else f"a study of at least {MIN_SEEDS} seeds on real data: {more}"


def _paper_margin(e: Evidence) -> str:
    """The paper's final-cycle difference beside our final-cycle interval."""
    c, test = e.comparison, e.secondary
    paper = PAPER_FINAL.get(e.study.dataset if e.study else "", {}).get(c.metric, {})
    if test is None or c.method not in paper or c.reference not in paper or c.setting:
        return "-"
    margin = paper[c.method] - paper[c.reference]
    where = ("inside" if test.ci_low <= margin <= test.ci_high else "above" if margin > test.ci_high else "below")
    return f"the paper's {margin:+.3g} lies {where} our final interval"


def _label(method: str) -> str:
    """Method names of the studies, and the loss-ranking experiment's head|objective pairs."""
    if "|" in method:
        head, objective = method.split("|")
        return f"{method_label(head)} head + {objective}"
    return method_label(method)


def claims_table(outputs: str | Path = "outputs", claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """One row per comparison: the claim and its verdict, the study's verdict, the primary and secondary
    paired differences (claimed method - other, in the metric's units), p and Holm-adjusted p, the paper's
    margin, and the seeds an open comparison needs."""
    rows, studies = [], Outputs(outputs)
    for claim in claims:
        fams = families(studies, claim)
        overall, text, settle = claim_verdict(fams), verdict_text(fams), settle_text(fams)
        for f in fams:
            for e, adjusted, state in zip(f.evidence, f.adjusted, f.states):
                c, p = e.comparison, e.primary
                needed = (seeds_for_power(p.mean_diff, p.sd, stats.ALPHA / len(f.evidence), most=MOST_SEEDS)
                          if state == OPEN else None)
                rows.append({"claim": claim.text, "paper": claim.where, "verdict": overall, "verdict by study": text,
                             "what would settle it": settle, "study": f.study,
                             "scale": f"{f.info.scale}, {f.seeds_text()}" if f.info else "-",
                             "study verdict": f.verdict,
                             "comparison": f"{c.metric}: {_label(c.method)} vs {_label(c.reference)}",
                             "primary": f"{p.quantity} {p.text()}" if p else "-",
                             "p": p.p_value if p else math.nan, "p (Holm)": adjusted, "state": state,
                             "final": e.secondary.text() if e.secondary else "-", "paper margin": _paper_margin(e),
                             "seeds needed": (needed or f"> {MOST_SEEDS}") if state == OPEN else "-"})
    return pd.DataFrame(rows)


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def whole_table_holm(table: pd.DataFrame) -> str:
    """How many primary tests of the whole table survive Holm over all of them (every study, counting or not)."""
    p = table.p.dropna().to_numpy(float)
    survive = int((np.asarray(stats.holm(p)) < stats.ALPHA).sum()) if len(p) else 0
    nominal = int((p < stats.ALPHA).sum())
    return (f"Over the whole table: {len(p)} primary tests, {nominal} at p < {stats.ALPHA} before adjustment,"
            f" {survive} after Holm over all {len(p)}.")


def claims_markdown(outputs: str | Path = "outputs", claims: tuple[Claim, ...] = CLAIMS) -> str:
    """Every comparison of every claim (docs/claims.md): a claim's text, verdict and remedy on its first row."""
    table = claims_table(outputs, claims)
    rows, previous = [], None
    for r in table.to_dict("records"):
        first = r["claim"] != previous
        previous = r["claim"]
        rows.append([f"{r['claim']} ({r['paper']})" if first else "", r["verdict by study"] if first else "", f"{r['study']} ({r['scale']}): {r['study verdict']}", r["comparison"],
                     r["primary"], _p(r["p"]), _p(r["p (Holm)"]), r["state"], r["final"], r["paper margin"],
                     r["seeds needed"]])
    header = ["claim (paper)", "verdict", "study: its verdict", "comparison (claimed - other)", "primary [95% CI]",
              "p", "p (Holm, family)", "comparison after Holm", "final cycle [95% CI]", "paper's margin",
              "seeds needed (80 % power)"]
    return f"{LEGEND}\n\n{markdown_table(header, rows)}\n\n{whole_table_holm(table)}"


def claims_summary_markdown(outputs: str | Path = "outputs", claims: tuple[Claim, ...] = CLAIMS) -> str:
    """One row per claim (the README's table): its verdict per study and scale, what would settle it; the
    evidence of every comparison is in docs/claims.md."""
    table = claims_table(outputs, claims)
    rows = [[f"{claim} ({r.paper.iloc[0]})", r["verdict by study"].iloc[0], r["what would settle it"].iloc[0]] for claim, r in table.groupby("claim", sort=False)]
    return (f"{markdown_table(['claim (paper)', 'verdict by study and scale', 'what would settle it'], rows)}\n\n"
            f"{LEGEND} {whole_table_holm(table)}")


def replication_markdown(outputs: str | Path, first: str, second: str, metric: str = "accuracy") -> str:
    """Two runs of the same methods, seeds and settings side by side: per pair of methods and quantity, the
    paired difference and its unadjusted p in each run and whether the verdict (better / worse / not
    significant at p < 0.05) flips between them."""
    studies = [StudyResults(Path(outputs) / name) for name in (first, second)]
    tables = [s.table for s in studies]
    grids = [stats.Grid.of(s.table, metric, s.recorded) for s in studies]
    methods = ordered(set(tables[0].method) & set(tables[1].method))
    rows, flips = [], 0
    for i, b in enumerate(methods):  # the later method minus the earlier one: L2R-AL - Random, not the reverse
        for a in methods[i + 1:]:
            found = [stats.paired_differences(t, metric, b, g).set_index(["method", "quantity"]).loc[a]
                     for t, g in zip(tables, grids)]
            for quantity in ("aubc", "final"):
                x, y = (f.loc[quantity] for f in found)
                flip = x.verdict != y.verdict
                flips += flip
                rows.append([f"{method_label(a)} - {method_label(b)}", "AUBC" if quantity == "aubc" else "final",
                             f"{x.mean_diff:+.3g}", _p(x.p_value), x.verdict, f"{y.mean_diff:+.3g}", _p(y.p_value),
                             y.verdict, "**yes**" if flip else "no"])
    header = ["comparison", "quantity", f"{first}: diff", "p", "verdict", f"{second}: diff", "p", "verdict", "flips"]
    return (f"{markdown_table(header, rows)}\n\n{flips} of {len(rows)} verdicts flip between the two runs"
            f" ({metric}, unadjusted p < {stats.ALPHA}).")


def study_findings(outputs: str | Path, study: str, claims: tuple[Claim, ...] = CLAIMS) -> str:
    """What one study says about the paper's claims, in the claims table's words (a notebook's opening
    cell): per claim it bears on, this study's verdict and its primary paired differences with their
    Holm-adjusted p, then the claim's verdict over every study."""
    table = claims_table(outputs, claims)
    mine = table[table.study == study]
    if mine.empty:
        return (f"No claim of the paper reads {study} (the claims table, docs/claims.md, says which studies"
                " each claim reads).")
    lines = []
    for claim, rows in mine.groupby("claim", sort=False):
        first = rows.iloc[0]
        differences = "; ".join(f"{r['comparison'].split(': ', 1)[1]} {r['primary']} (p Holm {_p(r['p (Holm)'])})"
                                for r in rows.to_dict("records") if r["primary"] != "-")
        lines.append(f"- **{claim}** ({first['paper']}). Here: **{first['study verdict']}** ({first['scale']})"
                     + (f": {differences}." if differences else ".") + f" Over every study: {first['verdict by study']}.")
    return "\n".join(lines)
