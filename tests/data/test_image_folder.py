"""The ImageFolder loader (data/image_folder.py): label order, its cache, a corrupt image named, the image listing."""
import pytest
import torch
from PIL import Image

from l2ral_lib.data import DataError
from l2ral_lib.data.generated import make_image_folder
from l2ral_lib.data.image_folder import list_images, load_image_folder


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


def test_list_images_takes_every_pillow_format_in_path_order_and_skips_the_rest(tmp_path):
    for name in ("b.png", "a/z.JPG", "a/y.webp", "a/deep/x.tiff", ".hidden.png", ".git/c.png", "notes.txt",
                 "a/.l2ral-cache-1.pt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".txt", ".pt"):
            path.write_text("x")
        else:
            Image.new("RGB", (3, 2)).save(path)
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == [
        "a/deep/x.tiff", "a/y.webp", "a/z.JPG", "b.png"]
