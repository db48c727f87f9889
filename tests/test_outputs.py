"""The study folder (outputs.py): the guard against other params or an unwritable --out, a study
that grows by seeds and strategies, reuse of a sibling's finished slices, cluster settings, studies
recorded before a params key was renamed."""
import dataclasses
import json

import pandas as pd
import pytest

from helpers import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.config import Params
from l2ral_lib.errors import ParamsError
from l2ral_lib.loop import run_study
from l2ral_lib.outputs import StudyFolder, changed_params


def test_unwritable_output(tmp_path, capsys, tiny_data_root):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cpu", "--out", str(blocker / "sub"),
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 2
    assert "params: out: cannot write" in capsys.readouterr().err


def test_changed_params_under_existing_output_refused(tmp_path, capsys, tiny_data_root):
    out = tmp_path / "o"
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cpu", "--out", str(out), "--no-progress",
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 0
    before = (out / "results.csv").read_text()
    assert main(args + ["--set", "epochs=1", "--set", "lr_milestones=[1]"]) == 2
    assert "changed: epochs, lr_milestones" in capsys.readouterr().err
    assert (out / "results.csv").read_text() == before  # nothing mixed in, nothing lost


def test_a_study_grows_by_seeds_and_strategies_without_recomputing(tmp_path, tiny_data_root, monkeypatch):
    import json

    from l2ral_lib import loop

    out = tmp_path / "o"
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cpu", "--out", str(out), "--no-progress",
            "--set", f"data_root={tiny_data_root}", "--set", "max_labeled=30"]
    assert main(args + ["--set", "strategies=[random]", "--set", "seeds=[0]"]) == 0
    first = pd.read_csv(out / "results.csv")
    trained = []
    loop_train = loop.train_cycle
    monkeypatch.setattr(loop, "train_cycle", lambda *a, **k: trained.append("train") or loop_train(*a, **k))
    assert main(args + ["--set", "strategies=[entropy, random]", "--set", "seeds=[1, 0]"]) == 0
    assert json.loads((out / "params.json").read_text())["strategies"] == ["random", "entropy"]
    assert json.loads((out / "params.json").read_text())["seeds"] == [0, 1]
    grown = pd.read_csv(out / "results.csv")
    assert sorted(set(zip(grown.method, grown.seed))) == [("entropy", 0), ("entropy", 1), ("random", 0), ("random", 1)]
    kept = grown[(grown.method == "random") & (grown.seed == 0)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first)  # the finished slice was read back, not retrained
    assert trained.count("train") == 3 * 2  # three new slices of two cycles each


def test_a_study_may_change_its_cluster_settings(tmp_path):
    """The cluster section changes no result: an output folder written with other settings is not refused."""
    params = load_params(ROOT / "params" / "cifar10-ci.yaml")
    StudyFolder(tmp_path).open(params)
    StudyFolder(tmp_path).guard(load_params(ROOT / "params" / "cifar10-ci.yaml", {"cluster.partition": "gpu",
                                                                                  "cluster.time_min": 60}))
    with pytest.raises(ParamsError, match="changed: epochs"):
        StudyFolder(tmp_path).guard(load_params(ROOT / "params" / "cifar10-ci.yaml", {"epochs": 3}))


def test_reuse_from_copies_finished_slices_and_computes_the_rest(ci_params, tmp_path):
    """A study that names a sibling run with the same params copies its finished slices (files equal,
    nothing recomputed) and computes only the others; other params are refused before anything is written."""
    outputs = tmp_path / "outputs"
    run_study(ci_params(study="base", strategies=["random"]), "cpu", outputs / "base", progress=False)
    before = {f.name: f.read_bytes() for f in (outputs / "base" / "slices" / "random-seed0").iterdir()
              if f.name != ".lock"}  # who last held the slice, not a result
    table = run_study(ci_params(study="grown", strategies=["random", "entropy"], reuse_from="base"), "cpu",
                      outputs / "grown", progress=False)
    copied = outputs / "grown" / "slices" / "random-seed0"
    provenance = json.loads((copied / "provenance.json").read_text())
    assert provenance["copied_from"] == str(outputs / "base" / "slices" / "random-seed0")
    assert provenance["runs"] == json.loads(before["provenance.json"])["runs"]  # no run of its own
    assert {name: (copied / name).read_bytes() for name in before if name != "provenance.json"} == \
        {name: data for name, data in before.items() if name != "provenance.json"}
    assert set(table.method) == {"random", "entropy"}
    with pytest.raises(ParamsError, match="reuse_from: .*other params \\(changed: epochs\\)"):
        run_study(ci_params(study="other", epochs=3, reuse_from="base"), "cpu", outputs / "other", progress=False)
    assert not (outputs / "other").exists()


def test_a_study_recorded_under_the_old_key_experiment_is_the_same_study(tmp_path):
    """A study folder written before `experiment` became `study`: the same params open and reuse it, and a
    run that adds nothing leaves its params.json as recorded."""
    params = load_params(ROOT / "params" / "cifar10-ci.yaml")
    record = {("experiment" if key == "study" else key): value for key, value in params.to_dict().items()}
    (tmp_path / "params.json").write_text(json.dumps(record))
    StudyFolder(tmp_path).guard(params)
    StudyFolder(tmp_path).check_reusable(dataclasses.replace(params, study="sibling"))
    StudyFolder(tmp_path).open(params)
    assert json.loads((tmp_path / "params.json").read_text()) == record
    with pytest.raises(ParamsError, match="changed: epochs"):
        StudyFolder(tmp_path).guard(dataclasses.replace(params, epochs=3))


SHIPPED = sorted(path.parent for path in (ROOT / "outputs").glob("*/params.json")
                 if (ROOT / "params" / f"{path.parent.name}.yaml").is_file())


@pytest.mark.parametrize("study", SHIPPED, ids=lambda path: path.name)
def test_each_shipped_study_is_opened_by_its_params_file(study):
    """`make <experiment> PROFILE=<profile>` reruns a shipped study into its folder: its record, whatever keys
    it was written with, must be the params file's."""
    StudyFolder(study).guard(load_params(ROOT / "params" / f"{study.name}.yaml"))


def test_a_key_added_after_a_study_ran_reads_as_its_default():
    """params.json of a study run before a key existed lacks it: the key's default is what that run did."""
    recorded = {k: v for k, v in Params().to_dict().items() if k != "image_size"}
    assert changed_params(recorded, Params()) == []
    assert changed_params(recorded, Params(image_size=64)) == ["image_size"]
    assert changed_params({**recorded, "image_size": 64}, Params()) == ["image_size"]


def test_a_run_of_a_seed_only_only_names_records_it(tmp_path):
    """`run --only random:10 entropy:10` on params whose seeds stop at 9 grows the study by seed 10: the record
    lists it (once), so that the reports read it."""
    params = load_params(ROOT / "params" / "cifar10-ci.yaml")
    StudyFolder(tmp_path).open(params, only=[("random", 10), ("entropy", 10), ("random", params.seeds[0])])
    assert json.loads((tmp_path / "params.json").read_text())["seeds"] == [*params.seeds, 10]
    StudyFolder(tmp_path).open(params)  # a later run of the params' own seeds keeps it
    assert json.loads((tmp_path / "params.json").read_text())["seeds"] == [*params.seeds, 10]


def test_a_seed_plan_may_change_between_runs_and_the_last_run_records_it(tmp_path):
    """strategy_seeds decides which slices a study plans, not what a slice computes: a rerun with another
    plan is the same study (not refused), and params.json holds the last run's plan for the reports."""
    params = dataclasses.replace(load_params(ROOT / "params" / "cifar10-ci.yaml"), seeds=[0, 1, 2])
    folder = StudyFolder(tmp_path)
    folder.open(dataclasses.replace(params, strategy_seeds={"random": 1}))
    assert json.loads(folder.params_file.read_text())["strategy_seeds"] == {"random": 1}
    later = dataclasses.replace(params, strategy_seeds={"l2r": 1})
    folder.refuse(later)  # not refused
    slices = folder.open(later)
    assert slices.count(("l2r", 0)) == 1 and [m for m, _ in slices].count("l2r") == 1
    assert [m for m, _ in slices].count("random") == 3
    assert json.loads(folder.params_file.read_text())["strategy_seeds"] == {"l2r": 1}
    assert changed_params(json.loads(folder.params_file.read_text()), dataclasses.replace(later, epochs=99)) == ["epochs"]
