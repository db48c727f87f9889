"""The evidence the shipped studies give on each comparison of the paper's claims: per comparison, the
study's scope (seeds, labeled-set sizes, real or generated images) and the paired differences of the
claimed method and its reference over seeds (AUBC, the primary test; the final cycle, the secondary one),
read from the study (report.study) or the loss-ranking experiment's paired.csv. report.claims judges them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import scipy.stats

from ..paper import Comparison
from ..tasks import higher_is_better
from . import stats
from .study import Outputs, StudyResults

MIN_SEEDS = 5  # a study counts for or against a claim from this many seeds on, on real data
EXPLORATORY, NO_EVIDENCE = "exploratory", "no evidence (generated images)"  # why a study does not count


@dataclass(frozen=True)
class StudyScope:
    """What a verdict needs to know of a study: its seeds, its scale, whether its images are real."""

    name: str
    dataset: str
    n_seeds: int
    initial_labeled: int | None = None
    max_labeled: int | None = None

    @property
    def generated(self) -> bool:
        return self.dataset.endswith("-generated")  # the generated stand-ins' registry names (data/generated*.py)

    @property
    def counts(self) -> bool:
        return not self.generated and self.n_seeds >= MIN_SEEDS

    @property
    def scale(self) -> str:
        if self.max_labeled is None:
            return "smoke-size targets"
        return f"{self.initial_labeled:,}-{self.max_labeled:,} labels"

    @property
    def standing(self) -> str | None:
        """Why the study does not count, or None where it does."""
        if self.generated:
            return NO_EVIDENCE
        return None if self.n_seeds >= MIN_SEEDS else EXPLORATORY


@dataclass(frozen=True)
class Test:
    """One paired comparison on one quantity: claimed method minus reference, over `n_seeds` seeds."""

    quantity: str
    n_seeds: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    sd: float

    def text(self) -> str:
        return f"{self.mean_diff:+.3g} [{self.ci_low:+.3g}, {self.ci_high:+.3g}]"


@dataclass(frozen=True)
class Evidence:
    """A comparison as a study answers it: the primary test, the secondary (final cycle) one."""

    comparison: Comparison
    study: StudyScope | None
    primary: Test | None
    secondary: Test | None = None

    @property
    def run(self) -> bool:
        return self.primary is not None and not math.isnan(self.primary.p_value)

    def claimed_way(self) -> bool:
        """Whether the observed primary difference points the way the claim says."""
        return (self.primary.mean_diff > 0) == higher_is_better(self.comparison.metric)


def _scope(study: StudyResults) -> StudyScope | None:
    if not study.has_params():
        return None
    p = study.recorded
    return StudyScope(study.name, p["dataset"], len(p["seeds"]), p["initial_labeled"], p["max_labeled"])


def _test(quantity: str, r) -> Test:
    half = (r.ci_high - r.ci_low) / 2
    sd = half / scipy.stats.t.ppf(1 - stats.ALPHA / 2, r.n_seeds - 1) * math.sqrt(r.n_seeds) if r.n_seeds > 1 else math.nan
    return Test(quantity, int(r.n_seeds), float(r.mean_diff), float(r.ci_low), float(r.ci_high), float(r.p_value),
                float(sd))


def _study_evidence(study: StudyResults, c: Comparison) -> Evidence:
    scope = _scope(study)
    if scope is None or not study.has_results():
        return Evidence(c, scope, None)
    table = study.table
    if not {c.method, c.reference} <= set(table.method):
        return Evidence(c, scope, None)
    grid = stats.Grid.of(table, c.metric, study.recorded)
    # the seeds both methods finished, not those the params promise: a study still running counts what it has
    done = stats.completeness(table, c.metric, grid).set_index("method").seeds_finished
    scope = StudyScope(scope.name, scope.dataset, int(min(done.get(c.method, 0), done.get(c.reference, 0))),
                       scope.initial_labeled, scope.max_labeled)
    paired = stats.paired_differences(table, c.metric, c.reference, grid)
    found = {r.quantity: _test("AUBC" if r.quantity == "aubc" else "final", r)
             for r in paired[paired.method == c.method].itertuples() if r.n_seeds > 1}
    return Evidence(c, scope, found.get("aubc"), found.get("final"))


def _ranking_evidence(outputs: Outputs, c: Comparison) -> Evidence:
    """The loss-ranking experiment's paired difference (its paired.csv holds method - reference rows; a
    comparison stated the other way round is flipped)."""
    path = outputs.path / c.study / "paired.csv"
    if not path.is_file():
        return Evidence(c, None, None)
    setting, split = c.setting.split("/")
    table = pd.read_csv(path)
    table = table[(table.setting == setting) & (table.split == split) & (table.metric == c.metric)]
    for method, reference, sign in ((c.method, c.reference, 1), (c.reference, c.method, -1)):
        row = table[(table.method == method) & (table.reference == reference)]
        if len(row):
            r = row.iloc[0]
            low, high = sorted((sign * r.ci_low, sign * r.ci_high))
            test = _test(f"{setting} heads, {split}", r)
            test = Test(test.quantity, test.n_seeds, sign * test.mean_diff, low, high, test.p_value, test.sd)
            return Evidence(c, StudyScope(c.study, "cifar10", int(r.n_seeds)), test)
    return Evidence(c, None, None)


def evidence(outputs: Outputs, c: Comparison) -> Evidence:
    """How the studies under `outputs` answer comparison `c` (each study opened once per `outputs`)."""
    return _ranking_evidence(outputs, c) if c.setting else _study_evidence(outputs[c.study], c)
