"""Params: every shipped file validates; bad input is one line naming the key, exit status 2, before work."""
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from helpers import ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.errors import ParamsError

PARAM_FILES = sorted((ROOT / "params").glob("*.yaml"))


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_shipped_params_validate(path):
    params = load_params(path)
    assert params.n_cycles >= 2
    assert params.experiment == path.stem


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


@pytest.mark.parametrize("device,message", [("tpu", "device"), ("gpu0", "unknown device")])
def test_unknown_device(tmp_path, capsys, tiny_data_root, device, message):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", device, "--out", str(tmp_path / "o"),
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 2
    assert "params: device:" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_gpu(tmp_path, capsys, tiny_data_root):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cuda", "--out", str(tmp_path / "o"),
            "--set", f"data_root={tiny_data_root}"]
    assert main(args) == 2
    assert "cuda requested but no GPU" in capsys.readouterr().err


def test_missing_dataset_names_path_and_both_ways(tmp_path, capsys):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cpu", "--out", str(tmp_path / "o"),
            "--set", f"data_root={tmp_path / 'nowhere'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere" / "cifar10") in err and "make data-offline" in err and "download: true" in err


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
