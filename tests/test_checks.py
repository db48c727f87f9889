"""The checks before training (checks.py): names against the registries and each strategy's
check_params, the files the params name; one line naming the key, exit status 2."""
import dataclasses

import pytest

from helpers import MODERN, ROOT
from l2ral_lib.__main__ import main
from l2ral_lib.checks import load_params
from l2ral_lib.errors import ParamsError
from l2ral_lib.loop import run_study


def test_unknown_rank_loss_is_one_line_naming_the_key(ci_params):
    from l2ral_lib.errors import ParamsError

    with pytest.raises(ParamsError, match=r"rank_loss.*'softrnk'.*did you mean 'softrank'"):
        ci_params(rank_loss="softrnk")
    # the sorter objective needs a shipped length: the key, the value and how to get one
    with pytest.raises(ParamsError, match=r"^params: batch_size: 5 matches no shipped sodeep sorter .*"
                                          r"`make sorter SEQ_LEN=5`$"):
        ci_params(strategies=["l2r-mse"], rank_loss="sodeep", batch_size=5)
    ci_params(strategies=["l2r-mse"], rank_loss="softrank", batch_size=5)  # no sorter, any batch size


def test_missing_dataset_names_path_and_both_ways(tmp_path, capsys):
    args = ["run", str(ROOT / "params/cifar10-ci.yaml"), "--device", "cpu", "--out", str(tmp_path / "o"),
            "--set", f"data_root={tmp_path / 'nowhere'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere" / "cifar10") in err and "make data-offline" in err and "download: true" in err


def ci(**overrides):
    return load_params(ROOT / "params" / "cifar10-ci.yaml", overrides)


def test_bald_without_dropout_names_the_key():
    with pytest.raises(ParamsError) as info:
        ci(strategies=["random", "bald"])
    assert info.value.key == "dropout" and "bald" in str(info.value)
    with pytest.raises(ParamsError) as info:
        ci(strategies=["bald"], dropout=0.5, bald_passes=1)
    assert info.value.key == "bald_passes"
    assert ci(strategies=["bald"], dropout=0.5).bald_passes == 10
    assert ci(strategies=["bald"], dropout=0.5, bald_passes=2).bald_passes == 2  # two passes can disagree


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_dropout_outside_unit_interval(dropout):
    with pytest.raises(ParamsError) as info:
        ci(dropout=dropout)
    assert info.value.key == "dropout"


@pytest.mark.parametrize("experiment", ["mpii", "shanghaitech"])
@pytest.mark.parametrize("name", MODERN)
def test_classification_only_methods_refuse_regression(experiment, name):
    with pytest.raises(ParamsError) as info:
        load_params(ROOT / "params" / f"{experiment}-ci.yaml", {"strategies": ["random", name]})
    assert info.value.key == "strategies[1]" and f"{name} is defined for classification only" in str(info.value)


def test_dropout_refused_for_the_regression_models():
    with pytest.raises(ParamsError) as info:
        load_params(ROOT / "params" / "mpii-ci.yaml", {"dropout": 0.5})
    assert info.value.key == "dropout"


def test_params_built_in_code_are_checked_by_the_run(ci_params, tmp_path):
    """Params made without load_params (dataclasses.replace in a notebook) get the name checks from the run
    itself, before anything is written."""
    params = dataclasses.replace(ci_params(), strategies=["random", "entrpy"])
    with pytest.raises(ParamsError, match=r"strategies\[1\]: unknown strategy 'entrpy' \(did you mean 'entropy'\?\)"):
        run_study(params, "cpu", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
