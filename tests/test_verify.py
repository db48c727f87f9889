"""`verify` reruns one stored slice from the study's params.json: identical on the same machine, and
any changed row or selection is reported (the check behind the shipped results)."""
import json
import shutil

import pandas as pd
import pytest
import torch

from helpers import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.loop import run_study
from l2ral_lib.provenance import cpuinfo, processor_name
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


def test_a_rerun_reproduces_the_stored_slice(study, capsys):
    said = []
    verdict = verify_slice(study[1], "l2r", 0, say=said.append)
    assert verdict.differences == [] and verdict.fingerprint == {} and verdict.status == 0
    assert said == ["fingerprint matches the slice's (processor, instruction sets, torch build, device, precision,"
                    " threads)"]
    assert main(["verify", str(study[1]), "l2r:0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("fingerprint matches the slice's (processor, instruction sets, torch build, device,"
                           " precision, threads)") and out[-1].endswith("l2r:0: reproduced exactly")
    assert out[1] == "verify: CPU slice, CPU rerun on its recorded thread count: expected identical to the last digit"


def test_a_changed_metric_is_reported_and_timings_are_not(study, capsys):
    slice_dir, out = study
    rows = pd.read_csv(slice_dir / "rows.csv")
    spearman = rows.index[(rows.metric == "spearman") & (rows.cycle == 1)][0]
    rows.loc[spearman, "value"] += 1e-12  # beyond the last digit a float keeps: a CSV round trip keeps it
    rows.loc[rows.metric.str.startswith("time_"), "value"] = 1e9
    rows.to_csv(slice_dir / "rows.csv", index=False)
    lines = verify_slice(out, "l2r", 0).differences
    assert len(lines) == 1 and lines[0].startswith("cycle 1 (") and "spearman" in lines[0]
    assert main(["verify", str(out), "l2r:0"]) == 1  # on the slice's own fingerprint: the code is suspect
    printed = capsys.readouterr().out
    assert "spearman" in printed and "differs on the slice's own fingerprint" in printed


def test_changed_selections_and_missing_rows_are_reported(study):
    slice_dir, out = study
    selected = json.loads((slice_dir / "selected.json").read_text())
    selected["1"] = selected["1"][::-1]
    (slice_dir / "selected.json").write_text(json.dumps(selected))
    rows = pd.read_csv(slice_dir / "rows.csv")
    rows[rows.metric != "accuracy"].to_csv(slice_dir / "rows.csv", index=False)
    lines = verify_slice(out, "l2r", 0).differences
    assert "cycle 1: selected indices differ" in lines
    assert sum("accuracy: stored nan" in line for line in lines) == rows.cycle.nunique()


def test_an_unknown_slice_is_one_line(study, capsys):
    assert main(["verify", str(study[1]), "vaal:0"]) == 2
    assert "vaal-seed0/rows.csv not found" in capsys.readouterr().err


def set_recorded(slice_dir, key, *values):
    """Rewrite the slice's provenance as if its runs had had these values of a fingerprint key."""
    record = json.loads((slice_dir / "provenance.json").read_text())
    run = record["runs"][0]
    runs = [{**run, "hardware": {**run["hardware"], "torch_threads": value} if key == "threads" else run["hardware"],
             "fingerprint": {**run["fingerprint"], key: value}} for value in values]
    (slice_dir / "provenance.json").write_text(json.dumps({"runs": runs}))


def set_recorded_threads(slice_dir, *counts):
    set_recorded(slice_dir, "threads", *counts)


def test_the_rerun_takes_the_recorded_thread_count(study, monkeypatch):
    slice_dir, out = study
    set_recorded_threads(slice_dir, 3)
    seen = []
    monkeypatch.setattr("l2ral_lib.verify.run_study", lambda *args, **kwargs: seen.append(torch.get_num_threads()))
    monkeypatch.setattr("l2ral_lib.study_folder.SliceLayout.differences", lambda stored, rerun: [])
    before = torch.get_num_threads()
    verdict = verify_slice(out, "l2r", 0)
    assert verdict.differences == [] and verdict.fingerprint == {} and seen == [3]  # threads match: taken
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
    message = f"numerics differ from the study's slices so far in threads (this run {torch.get_num_threads()}, the study's 7)"
    assert caplog.text.count(message) == 1 and "OMP_NUM_THREADS=7 to match" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)  # finished: nothing computed
    assert "numerics differ" not in caplog.text
    shutil.rmtree(out / "slices" / "random-seed0")
    set_recorded_threads(slice_dir, torch.get_num_threads())
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)  # computes random again, on the study's count
    assert "numerics differ" not in caplog.text


def test_a_run_on_another_processor_says_what_differs_in_one_line(study, tiny_data_root, caplog):
    """The case the fingerprint is for: a study computed on an AMD EPYC rerun on an Intel Xeon with AMX."""
    slice_dir, out = study
    set_recorded(slice_dir, "processor", "AMD EPYC 7B13")
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root),
                                                               "strategies": ["l2r", "random"]})
    with caplog.at_level("WARNING"):
        run_study(params, "cpu", out, progress=False)
    (line,) = [r.getMessage() for r in caplog.records if "numerics differ" in r.getMessage()]
    assert f"in processor (this run {processor_name(cpuinfo())!r}, the study's 'AMD EPYC 7B13')" in line
    assert "threads" not in line.split(":")[1] and "OMP_NUM_THREADS" not in line  # only what differs is named


def test_a_difference_on_another_fingerprint_is_expected_not_a_failure(study, capsys):
    slice_dir, out = study
    set_recorded(slice_dir, "isa", "sse4_2 avx avx2 fma avx512f amx_tile amx_bf16")
    rows = pd.read_csv(slice_dir / "rows.csv")
    rows.loc[rows.metric == "accuracy", "value"] += 0.5
    rows.to_csv(slice_dir / "rows.csv", index=False)
    assert main(["verify", str(out), "l2r:0"]) == 3
    out_lines = capsys.readouterr().out.splitlines()
    assert "fingerprint differs from the slice's in isa (this run" in out_lines[0]
    assert out_lines[-1].endswith("differs, expected: fingerprint differs in isa")


def test_a_slice_recorded_before_fingerprints_says_what_it_lacks(study, capsys):
    slice_dir, out = study
    record = json.loads((slice_dir / "provenance.json").read_text())
    runs = [{**{k: v for k, v in run.items() if k != "fingerprint"}, "hardware": {**run["hardware"], "processor": ""}}
            for run in record["runs"]]
    (slice_dir / "provenance.json").write_text(json.dumps({"runs": runs}))
    rows = pd.read_csv(slice_dir / "rows.csv")
    rows.loc[rows.metric == "accuracy", "value"] += 0.5
    rows.to_csv(slice_dir / "rows.csv", index=False)
    assert main(["verify", str(out), "l2r:0"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("fingerprint matches the slice's where it records one; it does not record its"
                               " processor, isa, torch_build")
    assert "whether the machine explains it cannot be told" in printed[-1]


def test_verify_help_documents_its_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 reproduced exactly; 1 differs on the slice's own fingerprint" in help_text
    assert "3 differs where the fingerprint differs too" in help_text


def test_a_study_with_a_seed_plan_verifies_one_slice(study, capsys):
    """The rerun's params are the one slice's: a strategy_seeds naming the study's other methods was refused
    as naming a strategy the rerun lacks."""
    record = json.loads((study[1] / "params.json").read_text())
    record.update(strategies=["l2r", "random"], strategy_seeds={"random": 1})
    (study[1] / "params.json").write_text(json.dumps(record))
    assert main(["verify", str(study[1]), "l2r:0"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("l2r:0: reproduced exactly")
