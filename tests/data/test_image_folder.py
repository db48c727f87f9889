"""The ImageFolder loader (data/image_folder.py): label order, its cache, a corrupt image named."""
import pytest
import torch

from l2ral_lib.data import DataError
from l2ral_lib.data.generated import make_image_folder
from l2ral_lib.data.image_folder import load_image_folder


def test_image_folder_loads_in_label_order(tmp_path):
    make_image_folder(tmp_path, classes=3, train_per_class=2, test_per_class=1, size=8)
    images, labels = load_image_folder(tmp_path / "train")
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 8, 8)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    cached = list((tmp_path / "train").glob(".l2ral-cache-*.pt"))
    assert len(cached) == 1
    again, _ = load_image_folder(tmp_path / "train")  # from the cache
    assert torch.equal(again, images)


def test_corrupt_image_names_the_file(tmp_path):
    make_image_folder(tmp_path, classes=2, train_per_class=2, test_per_class=1, size=8)
    broken = tmp_path / "train" / "class_01" / "0001.png"
    broken.write_bytes(broken.read_bytes()[:20])  # truncated
    with pytest.raises(DataError, match="0001.png"):
        load_image_folder(tmp_path / "train")
