"""The tidy results table, the one contract between computing and reporting: one row per measurement
(a metric of one method, seed and cycle), written by each slice (outputs.SliceFolder) and merged per
study into results.csv; every report reads it and nothing else of a study's computation."""
from __future__ import annotations

RESULT_COLUMNS = ["dataset", "method", "seed", "cycle", "n_labeled", "metric", "value"]
# measurements of the machine, not of the method: they differ on every run, and no rerun is held to them
MACHINE_METRICS = ("time_", "gpu_peak_memory_gib")
# beside a slice's rows, where the task records them (tasks.Task.item_values): the final model's values of every
# test item, one row per test index (crowd counting: annotated and predicted count)
TEST_ITEMS_FILE = "test_items.csv"
