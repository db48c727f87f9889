"""The study folder's layout (study_folder.py): slice names parse back, the listing holds the slices and
nothing else, the rows read back as written, the slice order is seed by seed; and no other module of the
package spells a name of the layout."""
import ast
import re

import pandas as pd

from helpers import ROOT
from l2ral_lib.config import Params
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
    params = Params(seeds=[0, 1], strategies=["random", "l2r"])
    assert study_slices(params) == [("random", 0), ("l2r", 0), ("random", 1), ("l2r", 1)]
    assert study_slices(params, [("l2r", 1), ("random", 0)]) == [("l2r", 1), ("random", 0)]


def test_a_seed_plan_runs_each_capped_strategy_on_the_first_seeds_only():
    """strategy_seeds {coreset: 2, ll4al: 9}: coreset on the first two seeds *as listed* (not the two
    smallest), ll4al on all four (a cap beyond the seeds is no cap), the others on all; checked against
    the set written out by hand."""
    params = Params(seeds=[5, 0, 7, 3], strategies=["random", "coreset", "ll4al"], strategy_seeds={"coreset": 2, "ll4al": 9})
    expected = {("random", s) for s in (5, 0, 7, 3)} | {("ll4al", s) for s in (5, 0, 7, 3)} | {("coreset", 5), ("coreset", 0)}
    slices = study_slices(params)
    assert set(slices) == expected and len(slices) == len(expected)
    assert [seed for _, seed in slices] == sorted((seed for _, seed in slices), key=[5, 0, 7, 3].index)  # seed by seed


# --- no other module spells a name of the layout

FILES = ("params.json", "results.csv", "provenance.json", "rows.csv", "selected.json", "state.pt", "test_items.csv")
FOLDERS = ("slices", "figures", "jobs")


def spelled_names(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string of `source` that spells a name of the study folder's layout as a path: a
    file name anywhere in it, a folder name in a path ('slices/...') or joined with `/`. Docstrings and
    prose (text with spaces: a page telling its reader which file to open) are not paths."""
    tree = ast.parse(source)
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    joined = {id(side) for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
              for side in (node.left, node.right)}
    folder_path = re.compile(r"(^|/)(" + "|".join(FOLDERS) + r")/")
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and not re.search(r"\s", node.value)
            and (any(name in node.value for name in FILES) or folder_path.search(node.value)
                 or (id(node) in joined and node.value in FOLDERS)))


def test_the_finder_sees_every_way_of_spelling_a_name():
    source = '''"""Reads params.json: a docstring."""
a = out / "params.json"
b = out / "slices" / name
c = out.glob("slices/*/rows.csv")
d = {"slices": 1}
e = "open results.csv to see the rows"
'''
    assert spelled_names(source) == [(2, "params.json"), (3, "slices"), (4, "slices/*/rows.csv")]


def test_no_module_but_the_layout_spells_a_name_of_the_study_folder():
    package = ROOT / "l2ral_lib"
    spelled = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in sorted(package.rglob("*.py"))
               if path != package / "study_folder.py" for line, text in spelled_names(path.read_text())]
    assert spelled == []


def test_a_nan_both_runs_hold_is_reproduced_and_a_nan_against_a_value_is_not(tmp_path):
    """A Spearman correlation against constant scores is NaN in the stored slice and in its rerun: reproduced
    (NaN != NaN must not make verify report a difference); a NaN where the other run has a value is one."""
    def write(folder: SliceLayout, value: float) -> SliceLayout:
        folder.path.mkdir(parents=True)
        pd.DataFrame([{"dataset": "d", "method": "random", "seed": 4, "cycle": 0, "n_labeled": 20,
                       "metric": "spearman_entropy", "value": value}], columns=RESULT_COLUMNS).to_csv(folder.rows_file, index=False)
        folder.selected_file.write_text('{"0": [1, 2]}')
        return folder

    stored = write(SliceLayout(tmp_path / "stored"), float("nan"))
    assert stored.differences(write(SliceLayout(tmp_path / "rerun"), float("nan"))) == []
    assert stored.differences(write(SliceLayout(tmp_path / "other"), 0.25)) == [
        "cycle 0 (20 labeled) spearman_entropy: stored nan, rerun 0.25"]


def test_a_rerun_is_compared_on_its_test_items_too(tmp_path):
    """A slice whose per-item test values (a counting study's counts) a rerun does not reproduce to the last
    digit differs, and says where; equal items, or none on either side, add nothing."""
    study, rerun = StudyLayout(tmp_path / "stored"), StudyLayout(tmp_path / "rerun")
    for layout in (study, rerun):
        write_rows(layout.slice("random", 0), cycles=2, method="random", seed=0)
        layout.slice("random", 0).selected_file.write_text('{"0": [1, 2], "1": [3]}')
    stored, again = study.slice("random", 0), rerun.slice("random", 0)
    assert stored.differences(again) == []
    items = pd.DataFrame({"test_index": [0, 1, 2], "count": [10.0, 50.0, 140.0],
                          "predicted_count": [12.5, 0.1 + 0.2, 131.0]})
    items.to_csv(again.test_items_file, index=False)
    assert stored.differences(again) == []  # a slice stored before items were recorded: nothing to compare
    items.to_csv(stored.test_items_file, index=False)
    again.test_items_file.unlink()
    assert stored.differences(again) == ["test items: stored has them, the rerun does not"]
    items.to_csv(again.test_items_file, index=False)
    assert stored.differences(again) == []  # a CSV round trip keeps every digit
    changed = items.copy()
    changed.loc[1, "predicted_count"] = 0.3  # 0.1 + 0.2 is 0.30000000000000004
    changed.loc[2, "predicted_count"] = 131.5
    changed.to_csv(again.test_items_file, index=False)
    assert stored.differences(again) == ["test items: 2 values differ (first: test index 1, predicted_count:"
                                         " stored 0.30000000000000004, rerun 0.3)"]
    items.iloc[:2].to_csv(again.test_items_file, index=False)
    assert stored.differences(again)[0].startswith("test items: stored 3 rows of")
