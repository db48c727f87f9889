"""Statistics against independent computations on hand-made tables: numpy's trapezoid, scipy's t
distribution and ttest_rel, a penalty matrix worked by hand, a lower-is-better metric, the edges."""
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from l2ral_lib.report import stats


def make_table(curves: dict, n_labeled=(100, 200, 300, 400), metric="accuracy") -> pd.DataFrame:
    """curves = {(method, seed): [value per cycle]} -> a results table as l2ral_lib.loop writes it."""
    rows = [dict(dataset="d", method=method, seed=seed, cycle=cycle, n_labeled=n_labeled[cycle], metric=metric,
                 value=value)
            for (method, seed), values in curves.items() for cycle, value in enumerate(values)]
    timing = [dict(row, metric="time_train_s", value=1.0) for row in rows]  # other metrics must be ignored
    return pd.DataFrame(rows + timing).sample(frac=1.0, random_state=0)  # row order must not matter


def random_curves(methods, seeds, cycles, seed=0):
    rng = np.random.default_rng(seed)
    return {(m, s): list(50 + 5 * np.arange(cycles) + rng.normal(0, 2, cycles)) for m in methods for s in seeds}


# --- AUBC


def test_aubc_by_hand_normalised_span_including_the_initial_cycle():
    table = make_table({("random", 0): [50, 60, 65, 70]})
    # x = 0, 1/3, 2/3, 1: (1/3) * ((50+60)/2 + (60+65)/2 + (65+70)/2) = 185/3; the mean of the points is 61.25,
    # leaving out the initial cycle gives a different area, and an unnormalised x gives 18500
    assert stats.aubc(table, "accuracy").aubc.item() == pytest.approx(185 / 3)


def test_aubc_uses_labeled_set_sizes_not_cycle_numbers():
    table = make_table({("random", 0): [50, 60, 65, 70]}, n_labeled=(100, 200, 400, 800))
    x = np.array([0, 100, 300, 700]) / 700
    assert stats.aubc(table, "accuracy").aubc.item() == pytest.approx(np.trapezoid([50, 60, 65, 70], x))


def test_aubc_equals_numpy_trapezoid_per_method_and_seed():
    curves = random_curves(["random", "entropy", "l2r"], [0, 1, 2], 4)
    got = stats.aubc(make_table(curves), "accuracy").set_index(["method", "seed"]).aubc
    assert len(got) == 9
    for key, values in curves.items():
        assert got[key] == pytest.approx(np.trapezoid(values, np.linspace(0, 1, 4)))


# --- per-method means and intervals


def test_interval_is_the_student_t_interval_across_seeds():
    curves = random_curves(["random", "l2r"], [0, 1, 2, 3], 3, seed=1)
    summary = stats.method_summary(make_table(curves, n_labeled=(10, 20, 30)), "accuracy").set_index(
        ["method", "quantity"])
    final = np.array([curves[("l2r", s)][-1] for s in range(4)])
    # independent: scipy's t distribution, and the textbook formula with n - 1 degrees of freedom
    low, high = scipy.stats.t.interval(0.95, 3, loc=final.mean(), scale=scipy.stats.sem(final))
    half = scipy.stats.t.ppf(0.975, 3) * final.std(ddof=1) / 2
    row = summary.loc[("l2r", "final")]
    assert row["mean"] == pytest.approx(final.mean()) and row.n_seeds == 4
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
    assert (row.ci_low, row.ci_high) == pytest.approx((final.mean() - half, final.mean() + half))
    assert row.interval == f"[{low:.4g}, {high:.4g}]"
    areas = np.array([np.trapezoid(curves[("l2r", s)], [0, 0.5, 1]) for s in range(4)])
    assert summary.loc[("l2r", "aubc"), "ci_high"] == pytest.approx(
        scipy.stats.t.interval(0.95, 3, loc=areas.mean(), scale=scipy.stats.sem(areas))[1])


def test_one_seed_says_so_instead_of_nan():
    table = make_table({("random", 0): [50, 60, 70, 80], ("l2r", 0): [50, 62, 71, 82]})
    summary = stats.method_summary(table, "accuracy")
    assert (summary.interval == stats.ONE_SEED).all() and (summary.n_seeds == 1).all()
    assert summary.set_index(["method", "quantity"]).loc[("l2r", "final"), "mean"] == 82
    paired = stats.paired_differences(table, "accuracy", "random")
    assert (paired.verdict == stats.ONE_SEED).all() and (paired.interval == stats.ONE_SEED).all()
    matrix = stats.penalty_matrix(table, "accuracy")
    assert matrix.attrs["note"] == stats.ONE_SEED and matrix.isna().all().all()


def test_ranks_follow_the_metric_direction_and_skip_incomplete_methods():
    curves = {(m, s): [10, 10 + v, 10 + 2 * v] for m, v in (("random", 1), ("entropy", 3), ("l2r", 2)) for s in (0, 1)}
    curves[("coreset", 0)] = [10, 20, 30]  # best numbers, but seed 1 is missing: no rank
    summary = stats.method_summary(make_table(curves, n_labeled=(1, 2, 3)), "accuracy").set_index(
        ["method", "quantity"])
    assert summary.loc[[("entropy", "final"), ("l2r", "final"), ("random", "final")], "rank"].tolist() == [1, 2, 3]
    assert np.isnan(summary.loc[("coreset", "final"), "rank"])
    mae = stats.method_summary(make_table(curves, n_labeled=(1, 2, 3), metric="mae"), "mae").set_index(
        ["method", "quantity"])
    assert mae.loc[[("entropy", "aubc"), ("l2r", "aubc"), ("random", "aubc")], "rank"].tolist() == [3, 2, 1]
    assert (mae.better == "lower").all() and (summary.better == "higher").all()


# --- paired differences


def paired_design(metric="accuracy", sign=1.0):
    """Seeds differ a lot (offsets 0, 10, 20), l2r is random + about 1 on every seed: a paired test sees
    the difference, an unpaired one does not."""
    curves = {}
    for seed, (offset, gain) in enumerate(((0, 1.0), (10, 1.2), (20, 0.8))):
        base = np.array([50.0, 55.0, 60.0]) + offset
        curves[("random", seed)] = list(sign * base)
        curves[("l2r", seed)] = list(sign * (base + [0, gain, gain]))
        curves[("entropy", seed)] = list(sign * (base + [0, 0.1 * (seed - 1), 0]))
    return make_table(curves, n_labeled=(10, 20, 30), metric=metric), curves


def test_paired_difference_is_seed_by_seed_as_scipy_ttest_rel():
    table, curves = paired_design()
    got = stats.paired_differences(table, "accuracy", "random").set_index(["method", "quantity"])
    l2r = np.array([curves[("l2r", s)][-1] for s in range(3)])
    rnd = np.array([curves[("random", s)][-1] for s in range(3)])
    test = scipy.stats.ttest_rel(l2r, rnd)
    row = got.loc[("l2r", "final")]
    assert row.mean_diff == pytest.approx(1.0) and row.n_seeds == 3
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(test.confidence_interval(0.95)))
    assert row.p_value == pytest.approx(test.pvalue) and row.p_value < 0.05 and row.verdict == "better"
    assert scipy.stats.ttest_ind(l2r, rnd).pvalue > 0.5  # unpaired, the seed offsets hide the gain
    assert got.loc[("entropy", "final"), "verdict"] == "not significant"  # identical finals: 0/0, no difference
    back = stats.paired_differences(table, "accuracy", "l2r").set_index(["method", "quantity"])
    assert back.loc[("random", "aubc"), "verdict"] == "worse" and back.loc[("random", "aubc"), "mean_diff"] < 0


def test_paired_verdict_respects_lower_is_better():
    table, _ = paired_design(metric="mae", sign=-1.0)  # l2r's MAE is lower by about 1 on every seed
    got = stats.paired_differences(table, "mae", "random").set_index(["method", "quantity"])
    assert got.loc[("l2r", "final"), "mean_diff"] == pytest.approx(-1.0)
    assert got.loc[("l2r", "final"), "verdict"] == "better" and (got.better == "lower").all()
    assert stats.paired_differences(table, "mae", "vaal").empty  # no such reference


# --- the penalty matrix


def worked_table(metric="accuracy", sign=1.0):
    """3 methods x 3 seeds x 2 cycles. Cycle 0: every method equal (the shared start). Cycle 1: A is B + ~1
    on every seed (significant), C is A + large noise (not significant against A nor B)."""
    curves = {}
    for seed, (offset, gain, noise) in enumerate(((0, 1.0, 5.0), (10, 1.1, -5.0), (20, 0.9, 0.1))):
        b = 60.0 + offset
        curves[("A", seed)] = [sign * (50 + offset), sign * (b + gain)]
        curves[("B", seed)] = [sign * (50 + offset), sign * b]
        curves[("C", seed)] = [sign * (50 + offset), sign * (b + gain + noise)]
    return make_table(curves, n_labeled=(10, 20), metric=metric), curves


def test_worked_premises_hold_under_scipy():
    _, c = worked_table()
    at = lambda m: np.array([c[(m, s)][1] for s in range(3)])  # noqa: E731
    assert scipy.stats.ttest_rel(at("A"), at("B")).pvalue < 0.05
    assert scipy.stats.ttest_rel(at("C"), at("A")).pvalue > 0.05 and scipy.stats.ttest_rel(at("C"), at("B")).pvalue > 0.05


@pytest.mark.parametrize("metric,sign", [("accuracy", 1.0), ("mae", -1.0)])
def test_penalty_matrix_worked_by_hand(metric, sign):
    """A beats B in one of two cycles: cell (A, B) = 1/2, nothing else; B is beaten (1/2 + 0) / 2 = 1/4 of the
    time. With MAE the values are negated: lower is better, so it is still A that beats B."""
    table, _ = worked_table(metric, sign)
    matrix = stats.penalty_matrix(table, metric)
    expected = pd.DataFrame([[np.nan, 0.5, 0.0], [0.0, np.nan, 0.0], [0.0, 0.0, np.nan]],
                            index=["A", "B", "C"], columns=["A", "B", "C"])
    pd.testing.assert_frame_equal(matrix.loc[["A", "B", "C"], ["A", "B", "C"]], expected, check_names=False)
    assert stats.how_often_beaten(matrix)[["A", "B", "C"]].tolist() == [0.0, 0.25, 0.0]
    assert matrix.attrs["cycles"] == 2 and matrix.attrs["seeds"] == 3 and matrix.attrs["better"] == (
        "higher" if sign > 0 else "lower")


def test_incomplete_method_is_marked_and_left_out():
    table, curves = worked_table()
    curves[("D", 0)], curves[("D", 1)] = [50, 99], [60, 99]  # no seed 2: D must not take part
    table = make_table(curves, n_labeled=(10, 20))
    status = stats.completeness(table, "accuracy").set_index("method")
    assert not status.loc["D", "complete"] and status.loc["D", "note"] == "incomplete: 2/3 seeds with all 2 cycles"
    matrix = stats.penalty_matrix(table, "accuracy")
    assert "D" not in matrix.index and matrix.attrs["excluded"] == ["D"] and matrix.loc["A", "B"] == 0.5
    summary = stats.method_summary(table, "accuracy").set_index(["method", "quantity"])
    assert summary.loc[("D", "final"), "n_seeds"] == 2 and not summary.loc[("D", "final"), "complete"]
    assert np.isnan(summary.loc[("D", "final"), "rank"]) and summary.loc[("A", "final"), "rank"] in (1, 2)
    # a method short of a cycle: AUBC only over seeds with the whole curve
    curves[("D", 2)] = [70]
    table = make_table(curves, n_labeled=(10, 20))
    assert stats.aubc(table, "accuracy").query("method == 'D'").seed.tolist() == [0, 1]


def test_grid_from_params_flags_a_method_missing_a_seed_or_cycle_the_params_promise():
    table = make_table(random_curves(["random", "l2r"], [0, 1], 3), n_labeled=(10, 20, 30))
    params = {"seeds": [0, 1, 2], "initial_labeled": 10, "query_size": 10, "max_labeled": 40}
    grid = stats.Grid.of(table, "accuracy", params)
    assert grid == stats.Grid((0, 1, 2), (0, 1, 2, 3))
    assert not stats.completeness(table, "accuracy", grid).complete.any()
    assert stats.completeness(table, "accuracy").complete.all()  # from the table alone: complete


def test_aggregate_penalty_averages_over_experiments_where_both_ran():
    one = pd.DataFrame([[np.nan, 1.0, 0.5], [0.0, np.nan, 0.0], [0.25, 0.0, np.nan]], index=list("ABC"),
                       columns=list("ABC"))
    two = pd.DataFrame([[np.nan, 0.0], [0.5, np.nan]], index=list("AB"), columns=list("AB"))
    single_seed = pd.DataFrame(np.nan, index=list("AD"), columns=list("AD"))  # no test possible: ignored
    agg = stats.aggregate_penalty([one, two, single_seed])
    assert agg.loc["A", "B"] == 0.5 and agg.loc["B", "A"] == 0.25
    assert agg.loc["A", "C"] == 0.5 and agg.loc["C", "A"] == 0.25  # C ran once: its cells are that one value
    assert "D" not in agg.index and np.isnan(agg.loc["A", "A"])
    assert agg.attrs["experiments"]["B"]["A"] == 2 and agg.attrs["experiments"]["C"]["A"] == 1
    assert stats.aggregate_penalty([]).empty


def test_duplicate_rows_are_refused():
    table = make_table({("random", 0): [1, 2]}, n_labeled=(1, 2))
    with pytest.raises(ValueError, match="several 'accuracy' rows for method random, seed 0, cycle 1"):
        stats.aubc(pd.concat([table, table[(table.cycle == 1) & (table.metric == "accuracy")]]), "accuracy")


def _holm_rejections(p, alpha):
    """Holm's procedure as stated: sort, reject while p_(i) <= alpha / (m - i + 1), stop at the first failure."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = set()
    for step, i in enumerate(order):
        if p[i] > alpha / (len(p) - step):
            break
        rejected.add(i)
    return rejected


@pytest.mark.parametrize("seed", range(20))
def test_holm_adjusted_p_rejects_exactly_what_the_step_down_procedure_rejects(seed):
    rng = np.random.default_rng(seed)
    p = (rng.uniform(0, 0.1, size=rng.integers(1, 8)) ** rng.uniform(0.5, 2)).tolist()
    adjusted = stats.holm(p)
    for alpha in np.linspace(0.001, 0.2, 60):
        assert {i for i, a in enumerate(adjusted) if a <= alpha} == _holm_rejections(p, alpha)
    assert all(a >= q for a, q in zip(adjusted, p)) and max(adjusted) <= 1


def test_holm_worked_by_hand_and_nan_left_out():
    """m = 3: 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1, raised to the running maximum 0.06; a NaN is no test."""
    assert stats.holm([0.04, 0.01, float("nan"), 0.03]) == pytest.approx([0.06, 0.03, float("nan"), 0.06], nan_ok=True)
    assert stats.holm([0.6, 0.6]) == [1.0, 1.0]


# --- a seed plan (strategy_seeds): each method its own seeds


def test_a_seed_plan_gives_each_method_its_own_seeds_and_pairs_on_the_common_ones():
    """random and l2r on seeds 0-4, coreset planned on the first 3 of them, and a stray coreset slice at seed 4
    (computed outside the plan) whose value would move every figure it entered. Completeness, summaries,
    paired tests and the penalty matrix must use coreset's seeds 0-2 only, against scipy on those seeds."""
    curves = random_curves(["random", "l2r"], range(5), 3, seed=3)
    curves.update(random_curves(["coreset"], range(3), 3, seed=4))
    curves[("coreset", 4)] = [1000.0, 1000.0, 1000.0]
    table = make_table(curves, n_labeled=(10, 20, 30))
    params = {"seeds": [0, 1, 2, 3, 4], "strategy_seeds": {"coreset": 3}, "initial_labeled": 10, "query_size": 10,
              "max_labeled": 30}
    grid = stats.Grid.of(table, "accuracy", params)
    assert grid.seeds_of("coreset") == (0, 1, 2) and grid.seeds_of("l2r") == (0, 1, 2, 3, 4)
    assert grid.describe(str.upper) == "5 seeds (CORESET on 3)"
    # while the study grows: the seeds run so far, of the plan's; a planned method no longer short of them unnamed
    run = stats.Grid.observed(table[table.seed < 2], "accuracy", params)
    assert run.describe(str.upper, of=grid) == "2 of 5 seeds" and run.seeds_of("coreset") == (0, 1)
    assert stats.Grid.observed(table[table.seed < 1], "accuracy", params).describe(of=grid) == "1 of 5 seeds"
    assert stats.Grid.observed(table[table.seed < 4], "accuracy", params).describe(str.upper, of=grid) == \
        "4 of 5 seeds (CORESET on 3)"
    status = stats.completeness(table, "accuracy", grid).set_index("method")
    assert status.complete.all() and status.loc["coreset", "seeds_expected"] == 3
    summary = stats.method_summary(table, "accuracy", grid).set_index(["method", "quantity"])
    finals = [curves[("coreset", s)][-1] for s in range(3)]
    assert summary.loc[("coreset", "final"), "n_seeds"] == 3
    assert summary.loc[("coreset", "final"), "mean"] == pytest.approx(np.mean(finals))
    paired = stats.paired_differences(table, "accuracy", "coreset", grid).set_index(["method", "quantity"])
    l2r = [curves[("l2r", s)][-1] for s in range(3)]
    assert paired.loc[("l2r", "final"), "n_seeds"] == 3
    assert paired.loc[("l2r", "final"), "p_value"] == pytest.approx(scipy.stats.ttest_rel(l2r, finals).pvalue)
    matrix = stats.penalty_matrix(table, "accuracy", grid)
    assert set(matrix.index) == {"random", "l2r", "coreset"} and matrix.attrs["planned"] == {"coreset": 3}
    for i in matrix.index:
        for j in matrix.columns:
            if i == j:
                continue
            both = range(3) if "coreset" in (i, j) else range(5)
            a, b = (np.array([curves[(m, s)] for s in both]) for m in (i, j))
            wins = [scipy.stats.ttest_rel(a[:, c], b[:, c]).pvalue < 0.05 and a[:, c].mean() > b[:, c].mean()
                    for c in range(3)]
            assert matrix.loc[i, j] == pytest.approx(sum(wins) / 3), (i, j)
    # without the plan, coreset lacks seed 3 and is incomplete: the plan is what makes it complete
    assert not stats.completeness(table, "accuracy", stats.Grid.of(table, "accuracy", {**params, "strategy_seeds": {}})
                                  ).set_index("method").loc["coreset", "complete"]


def test_a_growing_studys_own_page_reads_the_plan_among_the_seeds_it_has():
    """Params of 8 seeds, coreset planned on the first 2, seeds 0-2 finished: the page's grid holds seeds 0-2
    (nobody is marked for seeds 3-7), coreset complete on 0-1, and the others complete on 0-2."""
    curves = random_curves(["random", "l2r"], range(3), 3, seed=5)
    curves.update(random_curves(["coreset"], range(2), 3, seed=6))
    table = make_table(curves, n_labeled=(10, 20, 30))
    params = {"seeds": list(range(8)), "strategy_seeds": {"coreset": 2}, "initial_labeled": 10, "query_size": 10,
              "max_labeled": 30}
    grid = stats.Grid.observed(table, "accuracy", params)
    assert grid.seeds == (0, 1, 2) and grid.seeds_of("coreset") == (0, 1) and grid.seeds_of("l2r") == (0, 1, 2)
    assert stats.completeness(table, "accuracy", grid).complete.all()
    assert not stats.completeness(table, "accuracy").set_index("method").loc["coreset", "complete"]  # the table alone
    promised = stats.completeness(table, "accuracy", stats.Grid.of(table, "accuracy", params)).set_index("method")
    assert promised.complete.to_dict() == {"coreset": True, "l2r": False, "random": False}  # the whole plan's grid
    assert stats.Grid.observed(table, "accuracy") == stats.Grid.of(table, "accuracy")
