"""The study folder's layout (study_folder.py): slice names parse back, the listing holds the slices and
nothing else, the rows read back as written, the slice order is seed by seed."""
from types import SimpleNamespace

import pandas as pd

from l2ral_lib.study_folder import RESULT_COLUMNS, SliceLayout, StudyLayout, slice_name, study_slices


def write_rows(folder: SliceLayout, cycles: int, method: str, seed: int) -> pd.DataFrame:
    folder.path.mkdir(parents=True)
    rows = pd.DataFrame([{"dataset": "d", "method": method, "seed": seed, "cycle": c, "n_labeled": 10 * (c + 1),
                          "metric": metric, "value": c + 0.5} for c in range(cycles) for metric in ("accuracy", "time_s")],
                        columns=RESULT_COLUMNS)
    rows.to_csv(folder.rows_file, index=False)
    return rows


def test_a_slice_name_parses_back_to_its_method_and_seed():
    for method, seed in (("l2r-sodeep", 12), ("random", 0), ("ll4al-early-detach", 3)):
        folder = StudyLayout("study").slice(method, seed)
        assert folder.name == slice_name(method, seed) and (folder.method, folder.seed) == (method, seed)
        assert folder.path.parent == StudyLayout("study").slices_dir


def test_the_listing_holds_the_slices_not_a_copy_under_way_nor_a_stray_file(tmp_path):
    study = StudyLayout(tmp_path)
    for method, seed in (("random", 1), ("l2r", 0), ("random", 0)):
        study.slice(method, seed).path.mkdir(parents=True)
    (study.slices_dir / ".entropy-seed0.partial").mkdir()
    (study.slices_dir / "notes-seedling").mkdir()
    (study.slices_dir / "x-seed2.txt").write_text("")
    assert [folder.name for folder in study.slices()] == ["l2r-seed0", "random-seed0", "random-seed1"]


def test_rows_read_back_and_cycles_count_distinct_cycles(tmp_path):
    study = StudyLayout(tmp_path)
    written = write_rows(study.slice("random", 0), cycles=3, method="random", seed=0)
    pd.testing.assert_frame_equal(study.slice("random", 0).rows(), written)
    assert study.slice("random", 0).cycles_in_view() == 3  # 6 rows, 3 cycles
    empty = study.slice("l2r", 0)
    empty.path.mkdir(parents=True)
    assert empty.cycles_in_view() == 0  # no rows.csv yet
    empty.rows_file.write_text("")
    assert empty.cycles_in_view() == 0 and list(empty.rows().columns) == RESULT_COLUMNS  # created, not yet written
    write_rows(study.slice("entropy", 1), cycles=2, method="entropy", seed=1)
    merged = study.slice_rows()
    assert merged.method.tolist() == ["entropy"] * 4 + ["random"] * 6  # slice-name order


def test_slices_run_seed_by_seed_and_only_is_taken_as_given():
    params = SimpleNamespace(seeds=[0, 1], strategies=["random", "l2r"])
    assert study_slices(params) == [("random", 0), ("l2r", 0), ("random", 1), ("l2r", 1)]
    assert study_slices(params, [("l2r", 1), ("random", 0)]) == [("l2r", 1), ("random", 0)]
