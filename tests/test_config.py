"""Params: every shipped file validates; bad input is one line naming the key, exit status 2, before work."""
from pathlib import Path

import pytest
import yaml

from helpers import MODERN, ROOT
from l2ral_lib import config
from l2ral_lib.__main__ import main
from l2ral_lib.checks import from_dict, load_params
from l2ral_lib.config import Cluster
from l2ral_lib.errors import ParamsError

PARAM_FILES = sorted((ROOT / "params").glob("*.yaml"))


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_shipped_params_validate(path):
    params = load_params(path)
    assert params.n_cycles >= 2
    assert params.study == path.stem


def test_paper_profile_is_section_iv_a():
    p = load_params(ROOT / "params" / "cifar10-paper.yaml")
    assert (p.model, p.model_width, p.batch_size, p.epochs, p.lr, p.lr_milestones, p.momentum, p.weight_decay) == \
        ("resnet18", 64, 64, 150, 0.1, [120], 0.9, 5e-4)
    assert (p.initial_labeled, p.query_size, p.max_labeled, p.subset_size, p.n_cycles) == (1000, 1000, 10000, 10000, 10)
    assert len(p.seeds) == 5 and p.head_lr == 1e-3 and p.vaal_latent_dim == 32
    assert set(p.strategies) == {"random", "entropy", "coreset", "vaal", "ll4al", "l2r"}


def write(tmp_path, content: dict, name="p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"base": str(ROOT / "params" / "cifar10-ci.yaml"), **content}))
    return path


BAD = [
    ({"epochz": 3}, "epochz", "did you mean 'epochs'"),
    ({"epochs": "ten"}, "epochs", "expected int"),
    ({"epochs": 2.5}, "epochs", "expected int"),
    ({"lr": "fast"}, "lr", "expected float"),
    ({"seeds": 3}, "seeds", "expected a list"),
    ({"query_size": 0}, "query_size", "> 0"),
    ({"initial_labeled": -5}, "initial_labeled", "> 0"),
    ({"weight_decay": -1.0}, "weight_decay", ">= 0"),
    ({"max_labeled": 60000, "subset_size": 100}, "max_labeled", "larger than the pool"),
    ({"subset_size": 5}, "subset_size", "smaller than query_size"),
    ({"max_labeled": 45}, "max_labeled", "multiple of query_size"),
    ({"max_labeled": 10}, "max_labeled", "smaller than initial_labeled"),
    ({"strategies": ["random", "entropi"]}, "strategies[1]", "did you mean 'entropy'"),
    ({"strategies": []}, "strategies", "at least one"),
    ({"strategies": ["random", "random"]}, "strategies", "twice"),
    ({"dataset": "imagenet"}, "dataset", "unknown dataset"),
    ({"model": "vgg16"}, "model", "unknown model"),
    ({"optimizer": "rmsprop"}, "optimizer", "sgd, adam"),
    ({"batch_size": 7}, "batch_size", "make sorter SEQ_LEN=7"),
    ({"lr_milestones": [99]}, "lr_milestones", "outside"),
    ({"ll4al_detach_epoch": 50}, "ll4al_detach_epoch", "beyond epochs"),
    ({"pool_size": 70000}, "pool_size", "larger than the training set"),
    ({"vaal_image_size": 30}, "vaal_image_size", "multiple of 16"),
    ({"seeds": [1, 1]}, "seeds", "each once"),
    ({"strategy_seeds": {"badge": 2}}, "strategy_seeds.badge", "not among the strategies"),
    ({"strategy_seeds": {"random": 0}}, "strategy_seeds.random", "at least 1"),
    ({"input_downscale": 0}, "input_downscale", "> 0"),
    ({"input_downscale": 2}, "input_downscale", "cifar10 supports 1"),
    ({"dataset": "shanghaitech-generated", "model": "crowd_res50", "input_downscale": 3,
      "subset_size": None}, "input_downscale", "supports 1, 2, 4, 8"),
    ({"cluster": {"partitoin": "gpu"}}, "cluster.partitoin", "did you mean 'partition'"),
    ({"cluster": "gpu"}, "cluster", "mapping"),
    ({"cluster": {"cpus_per_task": 0}}, "cluster.cpus_per_task", "> 0"),
    ({"cluster": {"gpus_per_task": -1}}, "cluster.gpus_per_task", ">= 0"),
    ({"cluster": {"time_min": "1:00:00"}}, "cluster.time_min", "expected int"),
    ({"cluster": {"sbatch_options": {"time": "1:00:00"}}}, "cluster.sbatch_options.time", "set cluster.time_min"),
    ({"cluster": {"sbatch_options": {"output": "x.log"}}}, "cluster.sbatch_options.output", "submitit sets"),
    ({"cluster": {"sbatch_options": {"gres": ["gpu:1"]}}}, "cluster.sbatch_options.gres", "expected str or int"),
]


@pytest.mark.parametrize("content,key,message", BAD, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)])
def test_invalid_params_exit_2_with_one_line(tmp_path, capsys, content, key, message):
    code = main(["run", str(write(tmp_path, content)), "--device", "cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert f"params: {key}:" in err and message in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_params_error_names_the_key():
    with pytest.raises(ParamsError) as info:
        load_params(ROOT / "params" / "cifar10-ci.yaml", {"query_size": -1})
    assert info.value.key == "query_size"


@pytest.mark.parametrize("text,message", [("a: [1, 2", "not valid YAML"), ("- 1\n- 2\n", "mapping")])
def test_malformed_params_file(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_params_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_base_cycle_is_refused(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    assert main(["check", str(tmp_path / "a.yaml")]) == 2
    assert "params: base: cycle" in capsys.readouterr().err


@pytest.mark.parametrize("experiment", ["cifar10", "celeba"])
def test_modern_smoke_is_the_smoke_study_plus_the_four(experiment):
    smoke = load_params(ROOT / "params" / f"{experiment}-smoke.yaml").to_dict()
    modern = load_params(ROOT / "params" / f"{experiment}-modern-smoke.yaml").to_dict()
    changed = {k for k in smoke if smoke[k] != modern[k]}
    assert changed <= {"study", "strategies", "dropout", "seeds"}, changed
    assert modern["strategies"] == smoke["strategies"] + MODERN and modern["dropout"] > 0
    assert set(smoke["seeds"]) <= set(modern["seeds"]) and len(modern["seeds"]) >= 3
    paper = load_params(ROOT / "params" / f"{experiment}-paper.yaml").to_dict()
    modern_paper = load_params(ROOT / "params" / f"{experiment}-modern-paper.yaml").to_dict()
    assert {k for k in paper if paper[k] != modern_paper[k]} == {"study", "strategies", "dropout"}


def test_set_changes_one_cluster_key_and_keeps_the_profiles_others():
    cluster = load_params(ROOT / "params" / "cifar10-ci.yaml", {"cluster.partition": "gpu"}).cluster
    assert cluster == Cluster(partition="gpu", gpus_per_task=0, cpus_per_task=1, time_min=10)


# ---------------------------------------------------------------- `study`, once called `experiment`

@pytest.fixture
def unwarned(monkeypatch):
    """No renamed key warned about yet (the warning comes once per process)."""
    monkeypatch.setattr(config, "_WARNED", set())


def test_a_params_file_with_experiment_reads_it_as_study_and_warns_once(tmp_path, capsys, unwarned):
    path = write(tmp_path, {"experiment": "old-name"})
    assert load_params(path).study == "old-name"
    warning = f"warning: params key 'experiment' is deprecated and read as 'study' ({path}); rename it\n"
    assert capsys.readouterr().err == warning
    assert load_params(path).study == "old-name" and capsys.readouterr().err == ""  # once per process


def test_set_experiment_is_read_as_study(tiny_data_root, capsys, unwarned):
    code = main(["check", str(ROOT / "params" / "cifar10-ci.yaml"), "--device", "cpu", "--set", f"data_root={tiny_data_root}",
                 "--set", "experiment=renamed"])
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: params key 'experiment' is deprecated and read as 'study' (--set); rename it"]
    assert load_params(ROOT / "params" / "cifar10-ci.yaml", {"experiment": "renamed"}).study == "renamed"


def test_a_profiles_old_key_overrides_its_bases_new_one(tmp_path, unwarned):
    """Renamed per file before the profile chain is merged: the file named wins, as with any key."""
    assert load_params(write(tmp_path, {"experiment": "child"})).study == "child"  # cifar10-ci.yaml has study:


def test_both_names_in_one_file_are_refused(tmp_path, capsys, unwarned):
    assert main(["check", str(write(tmp_path, {"experiment": "a", "study": "b"}))]) == 2
    assert "params: experiment: renamed to 'study', which is given too" in capsys.readouterr().err


def test_a_params_json_recorded_as_experiment_reads_silently(capsys, unwarned):
    """A study recorded before the rename (the shipped ones): its params.json is a record, not the user's to fix."""
    recorded = {**load_params(ROOT / "params" / "cifar10-ci.yaml").to_dict(), "experiment": "cifar10-ci"}
    del recorded["study"]
    assert from_dict(recorded).study == "cifar10-ci"
    assert capsys.readouterr().err == ""
