"""Reporting's one reader of a study folder (l2ral_lib.report.study): the stored picks in paper order and stored
order, an old params record read under its new names and at the defaults, a partly finished study, each file
read once, the studies under an outputs folder."""
import json

import pandas as pd
import pytest

from helpers import write_study
from l2ral_lib.config import Params
from l2ral_lib.report.study import Outputs, StudyResults, find_studies, notebook_study


def test_picks_keep_methods_with_hyphens_cycle_zero_and_the_stored_order(tmp_path, slice_writer):
    slice_writer(tmp_path, "l2r-all-features", 1, {0: [5, 1], 1: [9, 3, 7]})
    slice_writer(tmp_path, "random", 0, {0: [5, 1], 1: [2], 2: [8]})
    (tmp_path / "slices" / "notes").mkdir()  # not a slice: ignored
    picks = StudyResults(tmp_path).picks
    assert list(picks.columns) == ["method", "seed", "cycle", "pool_index"]
    assert picks.values.tolist() == [  # paper order: Random before the ablation; stored order within a batch
        ["random", 0, 0, 5], ["random", 0, 0, 1], ["random", 0, 1, 2], ["random", 0, 2, 8],
        ["l2r-all-features", 1, 0, 5], ["l2r-all-features", 1, 0, 1], ["l2r-all-features", 1, 1, 9],
        ["l2r-all-features", 1, 1, 3], ["l2r-all-features", 1, 1, 7]]
    with pytest.raises(FileNotFoundError, match="no stored picks"):
        StudyResults(tmp_path / "nothing").picks


def test_an_old_record_is_read_under_its_new_names_and_at_the_defaults(several):
    folder = several / "cifar10-smoke"
    raw = json.loads((folder / "params.json").read_text())
    raw["experiment"] = raw.pop("study")  # recorded before the key was renamed
    (folder / "params.json").write_text(json.dumps(raw))
    study = StudyResults(folder, data_root="/elsewhere")
    assert study.recorded["study"] == "cifar10-smoke" and "experiment" not in study.recorded
    assert "model_width" not in raw and study.with_defaults()["model_width"] == Params().model_width
    assert study.params.study == "cifar10-smoke" and study.params.model_width == Params().model_width
    assert study.params.data_root == "/elsewhere"  # the reader's data, not the recorded one
    assert study.paper_key == "cifar10"


def test_a_partly_finished_study_reads_what_it_has(tmp_path, slice_writer):
    out = write_study(tmp_path, "mpii-smoke", "pckh", {"random": 0.0, "l2r": 1.0}, seeds=(0,), promised_seeds=(0, 1))
    slice_writer(out, "random", 0, {0: [1, 2], 1: [3]})
    slice_writer(out, "l2r", 0, {0: [1, 2]})  # computing its first cycle
    (out / "slices" / "random-seed0" / "test_items.csv").write_text("test_index,count\n0,3\n")
    study = StudyResults(out)
    assert study.status().loc["random", "note"].startswith("incomplete")  # seed 1 promised, not run
    assert study.picks.groupby("method").cycle.max().to_dict() == {"random": 1, "l2r": 0}
    items = study.test_items()  # the slices that kept them, with their method and seed
    assert items.to_dict("records") == [{"test_index": 0, "count": 3, "method": "random", "seed": 0}]
    assert StudyResults(tmp_path / "elsewhere").test_items() is None
    (out / "results.csv").unlink()  # no slice merged yet: not a study to summarise, still one to open
    assert find_studies(tmp_path) == [] and notebook_study(str(out)).name == "mpii-smoke"
    with pytest.raises(FileNotFoundError, match="must be a study folder"):
        notebook_study(str(tmp_path / "elsewhere"))


def test_each_file_is_read_once_per_reader(several, monkeypatch):
    reads = []
    original = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda path, *a, **k: reads.append(path) or original(path, *a, **k))
    outputs = Outputs(several)
    for _ in range(3):
        assert outputs["cifar10-smoke"].table is outputs["cifar10-smoke"].table
    assert len(reads) == 1
    assert [s.name for s in outputs.studies()] == ["cifar10-ablations", "cifar10-smoke", "shanghaitech-smoke"]
    assert len(reads) == 3  # the two others, once each


def test_a_growing_study_says_how_far_it_has_run_of_its_plan(tmp_path):
    """Seeds run of those planned (a seed plan named), and what is short of what has been run."""
    folder = write_study(tmp_path, "cifar10-budget", "accuracy", {"random": 0.0, "l2r": 1.0, "ll4al": 0.5},
                         seeds=(0, 1, 2), promised_seeds=(0, 1, 2, 3, 4))
    record = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**record, "strategy_seeds": {"ll4al": 4}}))
    study = StudyResults(folder)
    assert study.seeds_text() == "3 of 5 seeds" and study.finished() == "no"
    table = study.table
    table[~((table.method == "l2r") & (table.seed == 2))].to_csv(folder / "results.csv", index=False)
    behind = StudyResults(folder)
    assert behind.finished() == "no: L2R-AL incomplete: 2/3 seeds with all 3 cycles"
    (folder / "results.csv").unlink()  # params recorded, nothing merged: the plan alone
    assert StudyResults(folder).seeds_text() == "5 seeds (LL4AL on 4)"
