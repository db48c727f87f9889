"""The shipped sorter weights (sorter/weights.py): the lengths shipped, loading, hashes, the
training records."""
import dataclasses
import hashlib
import json

import pytest
import torch

from helpers import SHIPPED, SHIPPED_PAIRS
from l2ral_lib.config import Params
from l2ral_lib.sorter import (KINDS, MissingSorterError, available_sorter_lengths, load_sorter,
                              weights as sorter_weights, weights_hash, weights_path)
from l2ral_lib.sorter.synthetic import FAMILIES, SODEEP_FAMILIES
from l2ral_lib.sorter.train import SoDeepRecipe, checkpoint_path


def test_the_study_lengths_ship_for_every_kind():
    for kind in KINDS:
        assert set(SHIPPED) <= set(available_sorter_lengths(kind))
    assert available_sorter_lengths("no-such-kind") == []
    assert Params().sorter_kind in KINDS


def test_loading_leaves_the_global_rng_alone():
    sorter_weights._load.cache_clear()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_sorter(4)
    assert torch.equal(torch.rand(3), expected)


def test_wrong_length_and_missing_length():
    with pytest.raises(ValueError, match="length 64, got length 10"):
        load_sorter(64)(torch.randn(2, 10))
    for kind in KINDS:
        with pytest.raises(FileNotFoundError, match=f"sorter --kind {kind} --seq-len 13") as error:
            load_sorter(13, kind)
        assert isinstance(error.value, MissingSorterError) and f"{kind}-13.pt" in str(error.value)
    with pytest.raises(ValueError, match="unknown sorter kind"):
        load_sorter(64, kind="lstm")


def test_weights_hash_is_the_sha256_of_the_file_a_study_loads():
    for kind, n in SHIPPED_PAIRS:
        assert weights_hash(n, kind) == hashlib.sha256(weights_path(n, kind).read_bytes()).hexdigest()
    assert len({weights_hash(n, kind) for kind, n in SHIPPED_PAIRS}) == len(SHIPPED_PAIRS)
    with pytest.raises(MissingSorterError):
        weights_hash(13, "sodeep")


@pytest.mark.parametrize("n", SHIPPED)
def test_shipped_sodeep_record_and_checkpoint(n):
    """The record says SoDeep's recipe, how far it got and its curve; the checkpoint beside it holds
    the shipped (best) weights, so `--resume` continues exactly the shipped run."""
    record = json.loads(weights_path(n, "sodeep").with_suffix(".json").read_text())
    recipe = SoDeepRecipe(n)
    assert {k: record["recipe"][k] for k in dataclasses.asdict(recipe)} == dataclasses.asdict(recipe)
    assert 0 < record["epochs_reached"] <= record["epochs_target"] == 400
    assert record["complete"] == (record["epochs_reached"] >= 400)
    assert record["history"][-1]["steps"] == record["steps"] > 0
    assert record["best"]["val_l1"] == min(point["val_l1"] for point in record["history"])
    assert set(record["validation"]["sodeep"]) == set(SODEEP_FAMILIES)
    assert set(record["validation"]["project"]) == set(FAMILIES)
    state = torch.load(checkpoint_path(weights_path(n, "sodeep")), weights_only=True)
    shipped = torch.load(weights_path(n, "sodeep"), weights_only=True)["state_dict"]
    assert state["steps_total"] == record["steps"] and state["recipe"] == dataclasses.asdict(recipe)
    assert all(torch.equal(shipped[k], v) for k, v in state["best"]["state_dict"].items())
