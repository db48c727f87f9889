"""Crowd counting reports: the head counts of what each method picked against the pool's, and the final
models' errors by the test image's count, on hand-made picks and test items."""
import numpy as np
import pandas as pd
import pytest

from l2ral_lib.outputs import StudyFolder
from l2ral_lib.report import counting

POOL = [10, 20, 20, 30, 40, 50, 60, 70, 80, 90]  # head counts of a pool of 10 images


def picks(rows):
    return pd.DataFrame(rows, columns=["method", "seed", "cycle", "pool_index"])


def test_a_picks_percentile_is_its_place_in_the_pools_counts_ties_halved():
    counted = counting.pick_counts(picks([("l2r", 0, 1, 0), ("l2r", 0, 1, 1), ("l2r", 0, 1, 9)]), POOL)
    # 10 heads: none below, itself once -> 5; 20 heads: one below, two equal -> 20; 90: nine below -> 95
    assert counted["count"].tolist() == [10, 20, 90] and counted.percentile.tolist() == [5.0, 20.0, 95.0]


def test_the_pick_count_table_averages_each_seed_first_and_leaves_the_initial_set_out():
    rows = [("random", s, 0, i) for s in (0, 1) for i in (8, 9)]  # initial sets: dense, must not count
    rows += [("random", 0, 1, 0), ("random", 0, 1, 1), ("random", 1, 1, 9)]  # seed 0: 10, 20 -> 15; seed 1: 90
    rows += [("l2r", 0, 1, 9), ("l2r", 1, 1, 8)]
    table = counting.pick_count_table(counting.pick_counts(picks(rows), POOL))
    assert table.method.tolist() == ["random", "l2r"]  # paper order
    random = table[table.method == "random"].iloc[0]
    assert random.count_mean == pytest.approx((15 + 90) / 2) and random.n_seeds == 2
    low, high = random.count_low, random.count_high
    assert low < 52.5 < high and high - 52.5 == pytest.approx(52.5 - low)


def test_final_errors_are_read_from_every_slice_and_binned_by_count(tmp_path):
    for method, seed, predicted in (("random", 0, [12, 40, 150]), ("random", 1, [8, 60, 130]), ("l2r", 0, [10, 52, 140])):
        folder = StudyFolder(tmp_path).slice(method, seed)
        folder.path.mkdir(parents=True)
        folder.write_test_items(pd.DataFrame({"test_index": [0, 1, 2], "count": [10.0, 50.0, 140.0],
                                              "predicted_count": np.array(predicted, dtype=float)}))
    errors = counting.final_errors(tmp_path)
    assert len(errors) == 9 and errors[errors.method == "l2r"].error.tolist() == [0, 2, 0]
    table = counting.error_by_count(errors, bins=(0, 50, 200))
    assert table.columns.tolist() == ["0-49 heads (1 images)", "50-199 heads (2 images)"]
    # random: |2|, |-2| in the first bin; |-10|, |10|, |10|, |-10| in the second
    assert table.loc["Random"].tolist() == [2.0, 10.0] and table.loc["L2R-AL"].tolist() == [0.0, 1.0]


def test_a_study_without_test_items_gives_an_empty_table(tmp_path):
    (tmp_path / "slices" / "random-seed0").mkdir(parents=True)
    assert counting.final_errors(tmp_path).empty
