"""Statistics of a study across seeds: tidy results table in, tidy tables out.

- AUBC, the area under the budget curve (Zhan et al., IJCAI 2021): trapezoid rule over every cycle,
  the initial one included, with the labeled-set size normalised to [0, 1] over the study's budget span
  (so an AUBC is in the metric's units: the curve's mean height).
- Per method: mean and 95 % Student-t interval across seeds, for the final cycle and for AUBC.
- Paired differences to a reference method: all methods of a seed share the initial labeled set, the
  initial weights and the query subsets, so `method - reference` is taken seed by seed (scipy's
  `ttest_rel` and its interval).
- The pairwise penalty matrix of Ash et al. (BADGE, ICLR 2020, Sec. 5): for each ordered pair (i, j) and
  each cycle, a two-sided paired t-test over seeds at p < 0.05; a significant win of i over j adds
  1 / (number of cycles) to cell (i, j). Its column mean is how often a method is beaten.

Orientation: `tasks.LOWER_IS_BETTER` (MAE, RMSE); every output row says which way is better.
Completeness: a study's grid is its seeds x cycles (from its params, else from the table); a method whose
seeds the params' `strategy_seeds` plans runs on the first of them only, and its grid has those. A method
that lacks any (seed, cycle) of its grid is incomplete: its means use only the seeds it has (their number
is shown), it is flagged, and it takes no part in ranks or penalty matrices. Paired statistics use the
seeds both methods have.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from ..config import cycle_count, planned_seeds
from ..study_folder import RESULT_COLUMNS
from ..tasks import higher_is_better

CONFIDENCE = 0.95
ALPHA = 0.05  # two-sided level of every paired test
ONE_SEED = "n/a (1 seed)"


def better(metric: str) -> str:
    """'higher' or 'lower': the direction in which `metric` improves."""
    return "higher" if higher_is_better(metric) else "lower"


@dataclass(frozen=True)
class Grid:
    """The (seed, cycle) measurements a complete method has."""

    seeds: tuple[int, ...]
    cycles: tuple[int, ...]
    planned: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (method, its seeds) where fewer than all

    @classmethod
    def of(cls, table: pd.DataFrame | None, metric: str | None, params=None) -> Grid:
        """From the study's params (a `Params` or the dict of params.json) when given: a method that
        has not started its last seed is then seen as incomplete; else from the table itself."""
        if params is not None:
            p = params if isinstance(params, dict) else params.to_dict()
            n_cycles = cycle_count(p["initial_labeled"], p["max_labeled"], p["query_size"])
            caps = p.get("strategy_seeds") or {}  # a record from before strategy_seeds existed: all on all
            seeds = tuple(sorted(p["seeds"]))
            return cls(seeds, tuple(range(n_cycles)),
                       _fewer(seeds, {m: sorted(planned_seeds(p["seeds"], caps, m)) for m in caps}))
        rows = _rows(table, metric)
        last = int(rows.cycle.max()) if len(rows) else -1
        return cls(tuple(sorted(int(s) for s in rows.seed.unique())), tuple(range(last + 1)))

    @classmethod
    def observed(cls, table: pd.DataFrame, metric: str, params=None) -> Grid:
        """The seeds and cycles the table holds, each method on those of them the params' seed plan gives it:
        a study's own page while it grows (no method is marked for a seed nobody has started; a method
        that the plan gives fewer seeds is not marked for the others')."""
        grid = cls.of(table, metric)
        if params is None:
            return grid
        plan = cls.of(table, metric, params).planned
        return cls(grid.seeds, grid.cycles, _fewer(grid.seeds, {m: [s for s in seeds if s in grid.seeds]
                                                               for m, seeds in plan}))

    def seeds_of(self, method: str) -> tuple[int, ...]:
        return dict(self.planned).get(method, self.seeds)

    def in_plan(self, rows: pd.DataFrame) -> pd.Series:
        """Which rows (with method and seed columns) are of a seed the grid plans for their method."""
        return pd.Series([seed in self.seeds_of(method) for method, seed in zip(rows.method, rows.seed)],
                         index=rows.index, dtype=bool)

    def describe(self, label=str, of: Grid | None = None) -> str:
        """'5 seeds', or with a seed plan '52 seeds (Core-set on 14; LL4AL on 18)' (each method named by `label`);
        '3 of 8 seeds' where `of`, the study's whole grid, has more seeds than this one (a study that grows)."""
        plan = "; ".join(f"{label(m)} on {len(s)}" for m, s in self.planned)
        total = f" of {len(of.seeds)}" if of is not None and len(of.seeds) > len(self.seeds) else ""
        plural = "s" if len(self.seeds) != 1 or total else ""
        return f"{len(self.seeds)}{total} seed{plural}" + (f" ({plan})" if plan else "")


def _fewer(seeds: tuple[int, ...], plan: dict[str, list[int]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """A Grid's `planned`: the methods whose planned seeds are fewer than the grid's, with them."""
    return tuple((m, tuple(s)) for m, s in plan.items() if len(s) < len(seeds))


def _rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}; expected {RESULT_COLUMNS} (as the study writes them)")
    rows = table[table.metric == metric]
    duplicated = rows.duplicated(["method", "seed", "cycle"])
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        raise ValueError(f"results table has several '{metric}' rows for method {first.method}, seed {first.seed},"
                         f" cycle {first.cycle}: merge each study into its own table")
    return rows


def curves(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """`metric` with one row per (method, seed) and one column per cycle (NaN where not measured)."""
    return _rows(table, metric).set_index(["method", "seed", "cycle"]).value.unstack("cycle").sort_index(axis=1)


def completeness(table: pd.DataFrame, metric: str, grid: Grid | None = None) -> pd.DataFrame:
    """Per method: seeds with every cycle of the grid, whether that is all of them, and a note."""
    grid = grid or Grid.of(table, metric)
    wide = curves(table, metric).reindex(columns=list(grid.cycles))
    rows = []
    for method in wide.index.unique("method"):
        seeds = grid.seeds_of(method)
        done = wide.loc[method].reindex(list(seeds)).notna().all(axis=1)
        complete = bool(done.all()) and len(grid.cycles) > 0
        note = "" if complete else (f"incomplete: {int(done.sum())}/{len(seeds)} seeds with all"
                                    f" {len(grid.cycles)} cycles")
        rows.append(dict(method=method, seeds_finished=int(done.sum()), seeds_expected=len(seeds),
                         complete=complete, note=note))
    return pd.DataFrame(rows, columns=["method", "seeds_finished", "seeds_expected", "complete", "note"])


def _n_labeled(table: pd.DataFrame, metric: str) -> pd.Series:
    return _rows(table, metric).groupby("cycle").n_labeled.first()


def aubc(table: pd.DataFrame, metric: str, grid: Grid | None = None) -> pd.DataFrame:
    """AUBC per (method, seed) that has every cycle of the grid; empty with fewer than two cycles."""
    grid = grid or Grid.of(table, metric)
    columns = ["method", "seed", "metric", "better", "aubc"]
    n_labeled = _n_labeled(table, metric).reindex(list(grid.cycles))
    if len(grid.cycles) < 2 or n_labeled.isna().any():
        return pd.DataFrame(columns=columns)
    x = n_labeled.to_numpy(float)
    x = (x - x[0]) / (x[-1] - x[0])
    wide = curves(table, metric).reindex(columns=list(grid.cycles)).dropna()
    wide = wide[grid.in_plan(wide.index.to_frame()).to_numpy()]
    rows = [dict(method=method, seed=seed, metric=metric, better=better(metric), aubc=float(np.trapezoid(y, x)))
            for (method, seed), y in zip(wide.index, wide.to_numpy(float))]
    return pd.DataFrame(rows, columns=columns)


def mean_interval(values) -> tuple[float, float, float]:
    """(mean, low, high) of the 95 % t-interval of the mean; low = high = NaN for one value."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float(values[0]) if len(values) else float("nan")), float("nan"), float("nan")
    with warnings.catch_warnings():  # equal values: scipy warns, and returns the zero-width interval
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = scipy.stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
    return float(values.mean()), float(low), float(high)


def interval_text(low: float, high: float, n: int) -> str:
    if n == 0:
        return "n/a (no seed)"
    if n == 1:
        return ONE_SEED
    return f"[{low:.4g}, {high:.4g}]"


def curve_summary(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per method and cycle: labeled-set size, seeds, mean and 95 % t-interval across seeds (the
    learning curve's points and band)."""
    rows = []
    for (method, cycle), group in _rows(table, metric).groupby(["method", "cycle"]):
        mean, low, high = mean_interval(group.value.to_numpy())
        rows.append(dict(method=method, cycle=cycle, n_labeled=int(group.n_labeled.iloc[0]), n_seeds=len(group),
                         mean=mean, ci_low=low, ci_high=high))
    return pd.DataFrame(rows, columns=["method", "cycle", "n_labeled", "n_seeds", "mean", "ci_low", "ci_high"])


def per_seed(table: pd.DataFrame, metric: str, grid: Grid | None = None) -> pd.DataFrame:
    """Rows (quantity, method, seed, value): the value at the grid's last cycle ('final') and the AUBC
    ('aubc') of every seed of the grid that has them."""
    grid = grid or Grid.of(table, metric)
    rows = _rows(table, metric)
    final = rows[(rows.cycle == (grid.cycles[-1] if grid.cycles else -1)) & grid.in_plan(rows)]
    final = final[["method", "seed", "value"]].assign(quantity="final")
    areas = aubc(table, metric, grid).rename(columns={"aubc": "value"})[["method", "seed", "value"]]
    both = pd.concat([final, areas.assign(quantity="aubc")] if len(areas) else [final], ignore_index=True)
    return both[["quantity", "method", "seed", "value"]].astype({"value": float})


def method_summary(table: pd.DataFrame, metric: str, grid: Grid | None = None) -> pd.DataFrame:
    """Per method and quantity (final cycle, AUBC): seeds, mean, sd, 95 % t-interval, rank among the
    complete methods (1 = best, ties share the better rank), completeness."""
    grid = grid or Grid.of(table, metric)
    status = completeness(table, metric, grid).set_index("method")
    values = per_seed(table, metric, grid)
    rows = []
    for quantity in ("final", "aubc"):
        for method in status.index:
            seeds = values[(values.quantity == quantity) & (values.method == method)].value.to_numpy()
            mean, low, high = mean_interval(seeds)
            rows.append(dict(method=method, metric=metric, better=better(metric), quantity=quantity,
                             n_seeds=len(seeds), mean=mean, sd=float(seeds.std(ddof=1)) if len(seeds) > 1 else
                             float("nan"), ci_low=low, ci_high=high, interval=interval_text(low, high, len(seeds)),
                             complete=bool(status.loc[method, "complete"]), note=status.loc[method, "note"]))
    summary = pd.DataFrame(rows, columns=["method", "metric", "better", "quantity", "n_seeds", "mean", "sd", "ci_low",
                                          "ci_high", "interval", "complete", "note"])
    ranked = summary[summary.complete & summary["mean"].notna()]
    summary["rank"] = ranked.groupby("quantity")["mean"].rank(ascending=not higher_is_better(metric), method="min")
    return summary


def paired_differences(table: pd.DataFrame, metric: str, reference: str, grid: Grid | None = None) -> pd.DataFrame:
    """Per other method and quantity: mean of (method - reference) over the seeds both have, its 95 %
    interval and the two-sided paired t-test's p; verdict 'better' / 'worse' than the reference at
    p < 0.05 in the metric's direction, else 'not significant'. Empty without the reference."""
    grid = grid or Grid.of(table, metric)
    status = completeness(table, metric, grid).set_index("method")
    if reference not in status.index:
        return pd.DataFrame()
    values = per_seed(table, metric, grid)
    rows = []
    for quantity in ("final", "aubc"):
        by_seed = values[values.quantity == quantity].pivot(index="seed", columns="method", values="value")
        for method in status.index.drop(reference):
            pair = by_seed.reindex(columns=[method, reference]).dropna()
            diff = (pair[method] - pair[reference]).to_numpy(float)
            low = high = p = float("nan")
            verdict = interval_text(low, high, len(diff))
            if len(diff) >= 2:
                with warnings.catch_warnings():  # identical columns: 0/0, read as no difference
                    warnings.simplefilter("ignore", RuntimeWarning)
                    test = scipy.stats.ttest_rel(pair[method], pair[reference])
                    low, high = test.confidence_interval(CONFIDENCE)
                p = float(test.pvalue)
                verdict = "not significant"
                if p < ALPHA:
                    verdict = "better" if (diff.mean() > 0) == higher_is_better(metric) else "worse"
            rows.append(dict(method=method, reference=reference, metric=metric, better=better(metric),
                             quantity=quantity, n_seeds=len(diff),
                             mean_diff=float(diff.mean()) if len(diff) else float("nan"), ci_low=float(low),
                             ci_high=float(high), interval=interval_text(low, high, len(diff)), p_value=p,
                             verdict=verdict,
                             complete=bool(status.loc[method, "complete"] and status.loc[reference, "complete"]),
                             note="; ".join(f"{m}: {status.loc[m, 'note']}" for m in (method, reference)
                                            if status.loc[m, "note"])))
    return pd.DataFrame(rows)


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input's order: the i-th smallest p times
    (m - i + 1), made monotone by a running maximum, capped at 1. A hypothesis is rejected at level alpha
    exactly where its adjusted p is below alpha; NaN (a test that could not run) stays NaN and does not
    count towards m."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def penalty_matrix(table: pd.DataFrame, metric: str, grid: Grid | None = None) -> pd.DataFrame:
    """Cell (i, j): the fraction of cycles in which i beats j (two-sided paired t-test over the seeds both
    have, p < 0.05,
    in the metric's direction); rows = winners, columns = losers, diagonal NaN. Only complete methods
    take part; `attrs` holds metric, cycles, seeds, the excluded methods and a note (NaN cells and
    "n/a (1 seed)" with fewer than two seeds)."""
    grid = grid or Grid.of(table, metric)
    status = completeness(table, metric, grid)
    methods = list(status.method[status.complete])
    matrix = pd.DataFrame(np.nan, index=pd.Index(methods, name="winner"), columns=pd.Index(methods, name="loser"))
    excluded = list(status.method[~status.complete])
    matrix.attrs = dict(metric=metric, better=better(metric), cycles=len(grid.cycles), seeds=len(grid.seeds),
                        excluded=excluded, note=ONE_SEED if len(grid.seeds) < 2 else "",
                        planned={m: len(s) for m, s in grid.planned if m in methods})
    if len(grid.seeds) < 2:
        return matrix
    wide = curves(table, metric).reindex(columns=list(grid.cycles))
    sign = 1.0 if higher_is_better(metric) else -1.0
    for i in methods:
        for j in methods:
            both = [seed for seed in grid.seeds_of(i) if seed in grid.seeds_of(j)]
            if i == j or len(both) < 2:
                continue
            a, b = (wide.loc[m].reindex(both).to_numpy(float) for m in (i, j))  # (seeds, cycles)
            with warnings.catch_warnings():  # identical cycles (shared start): 0/0, no win
                warnings.simplefilter("ignore", RuntimeWarning)
                p = scipy.stats.ttest_rel(a, b, axis=0).pvalue
            gain = sign * (a - b).mean(axis=0)
            matrix.loc[i, j] = float(((p < ALPHA) & (gain > 0)).sum()) / len(grid.cycles)
    return matrix


def how_often_beaten(matrix: pd.DataFrame) -> pd.Series:
    """Column mean of a penalty matrix over the other methods (the diagonal is left out): lower = better."""
    return matrix.mean(axis=0, skipna=True).rename("how often beaten")


def aggregate_penalty(matrices: list[pd.DataFrame]) -> pd.DataFrame:
    """Penalty matrices of several experiments in one: each cell is the mean over the experiments in
    which both methods took part (Ash et al. sum over environments; averaging keeps a method that
    was not run in some experiment, VAAL on MPII say, from looking better for it). `attrs['experiments']`
    counts the experiments behind each cell ({loser: {winner: n}})."""
    usable = [m for m in matrices if len(m) and m.notna().any().any()]
    methods = list(dict.fromkeys(method for m in usable for method in m.index))
    total = pd.DataFrame(0.0, index=pd.Index(methods, name="winner"), columns=pd.Index(methods, name="loser"))
    count = total.copy()
    for m in usable:
        aligned = m.reindex(index=methods, columns=methods)
        total += aligned.fillna(0.0)
        count += aligned.notna()
    mean = total / count.where(count > 0)
    mean.attrs = dict(experiments=count.astype(int).to_dict(), n_matrices=len(usable),
                      metric=", ".join(dict.fromkeys(m.attrs.get("metric", "") for m in usable)))
    return mean
