"""Shared fixtures: a tiny generated CIFAR-like ImageFolder tree and the ci profile pointing at it."""
from pathlib import Path

import pytest

from l2ral_lib.config import load_params
from l2ral_lib.data.generated import make_image_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    make_image_folder(root / "cifar10")
    return root


@pytest.fixture
def ci_params(tiny_data_root):
    def make(**overrides):
        return load_params(ROOT / "params" / "cifar10-ci.yaml", {"data_root": str(tiny_data_root), **overrides})
    return make
