"""`verify` reruns one stored slice from the study's params.json: identical on the same machine, and
any changed row or selection is reported (the check behind the shipped results)."""
import json
import shutil

import pandas as pd
import pytest
import torch

from conftest import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.loop import run_study
from l2ral_lib.verify import verify_slice


@pytest.fixture(scope="module")
def stored(tiny_data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "study"
    run_study(load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root), "strategies": ["l2r"]}),
              "cpu", out, progress=False)
    return out


@pytest.fixture
def study(stored, tmp_path):
    """A fresh copy of the stored study for each test to tamper with."""
    out = shutil.copytree(stored, tmp_path / "study")
    return out / "slices" / "l2r-seed0", out


def test_a_rerun_reproduces_the_stored_slice(study):
    assert verify_slice(study[1], "l2r", 0) == []


def test_a_changed_metric_is_reported_and_timings_are_not(study, capsys):
    slice_dir, out = study
    rows = pd.read_csv(slice_dir / "rows.csv")
    spearman = rows.index[(rows.metric == "spearman") & (rows.cycle == 1)][0]
    rows.loc[spearman, "value"] += 1e-12  # beyond the last digit a float keeps: a CSV round trip keeps it
    rows.loc[rows.metric.str.startswith("time_"), "value"] = 1e9
    rows.to_csv(slice_dir / "rows.csv", index=False)
    lines = verify_slice(out, "l2r", 0)
    assert len(lines) == 1 and lines[0].startswith("cycle 1 (") and "spearman" in lines[0]
    assert main(["verify", str(out), "l2r:0"]) == 1
    assert "spearman" in capsys.readouterr().out


def test_changed_selections_and_missing_rows_are_reported(study):
    slice_dir, out = study
    selected = json.loads((slice_dir / "selected.json").read_text())
    selected["1"] = selected["1"][::-1]
    (slice_dir / "selected.json").write_text(json.dumps(selected))
    rows = pd.read_csv(slice_dir / "rows.csv")
    rows[rows.metric != "accuracy"].to_csv(slice_dir / "rows.csv", index=False)
    lines = verify_slice(out, "l2r", 0)
    assert "cycle 1: selected indices differ" in lines
    assert sum("accuracy: stored nan" in line for line in lines) == rows.cycle.nunique()


def test_an_unknown_slice_is_one_line(study, capsys):
    assert main(["verify", str(study[1]), "vaal:0"]) == 2
    assert "vaal-seed0/rows.csv not found" in capsys.readouterr().err


def set_recorded_threads(slice_dir, *counts):
    """Rewrite the slice's provenance as if its runs had used these torch thread counts."""
    record = json.loads((slice_dir / "provenance.json").read_text())
    runs = [{**record["runs"][0], "hardware": {**record["runs"][0]["hardware"], "torch_threads": n}} for n in counts]
    (slice_dir / "provenance.json").write_text(json.dumps({"runs": runs}))


def test_the_rerun_takes_the_recorded_thread_count(study, monkeypatch):
    slice_dir, out = study
    set_recorded_threads(slice_dir, 3)
    seen = []
    monkeypatch.setattr("l2ral_lib.verify.run_study", lambda *args, **kwargs: seen.append(torch.get_num_threads()))
    monkeypatch.setattr("l2ral_lib.verify.differences", lambda stored, rerun: [])
    before = torch.get_num_threads()
    assert verify_slice(out, "l2r", 0) == [] and seen == [3]
    assert torch.get_num_threads() == before  # restored


def test_a_slice_computed_on_two_thread_counts_is_refused(study, capsys):
    slice_dir, out = study
    set_recorded_threads(slice_dir, 1, 2)
    assert main(["verify", str(out), "l2r:0"]) == 2
    assert "computed on [1, 2] torch threads" in capsys.readouterr().err


def test_a_run_on_another_thread_count_than_the_study_says_so(study, tiny_data_root, caplog):
    """Warned once, when a cycle is about to be computed; a finished study (a render) says nothing."""
    slice_dir, out = study
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root),
                                                               "strategies": ["l2r", "random"]})
    set_recorded_threads(slice_dir, 7)
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)  # computes random
    message = f"trains on {torch.get_num_threads()} torch thread(s), the study's slices so far on 7"
    assert caplog.text.count(message) == 1 and "OMP_NUM_THREADS=7" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)  # finished: nothing computed
    assert "torch thread" not in caplog.text
    shutil.rmtree(out / "slices" / "random-seed0")
    set_recorded_threads(slice_dir, torch.get_num_threads())
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)  # computes random again, on the study's count
    assert "torch thread" not in caplog.text
