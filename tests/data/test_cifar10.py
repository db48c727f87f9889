"""CIFAR-10 loading (ImageFolder tree) and the on-device augmentation."""
import pytest
import torch

from l2ral_lib.data import DataError, load_dataset
from l2ral_lib.data.base import ImageClassificationData
from l2ral_lib.data.generated import make_image_folder


def test_dataset_sizes_and_fixed_test_sample(ci_params):
    data = load_dataset(ci_params(test_size=15), "cpu")
    assert (data.n_pool, data.n_test) == (120, 15)
    again = load_dataset(ci_params(test_size=15), "cpu")
    assert torch.equal(data.test_labels, again.test_labels)


def test_crop_flip_shapes_and_content():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8).to(torch.uint8)
    data = ImageClassificationData("t", images, torch.zeros(2, dtype=torch.long), images, torch.zeros(2, dtype=torch.long),
                                   2, "cpu")
    torch.manual_seed(0)
    out = data.random_crop_flip(images)
    assert out.shape == images.shape and out.dtype == torch.uint8
    # every output pixel is an input pixel of the same image and channel, or padding zero
    for b in range(2):
        for c in range(3):
            assert set(out[b, c].flatten().tolist()) <= set(images[b, c].flatten().tolist()) | {0}
    normalised, _ = data.train_batch(torch.tensor([0, 1]), augment=False)
    assert torch.allclose(normalised.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)


def test_crop_is_a_pure_shift():
    image = torch.arange(36, dtype=torch.uint8).view(1, 1, 6, 6).repeat(1, 3, 1, 1)
    data = ImageClassificationData("t", image, torch.zeros(1, dtype=torch.long), image, torch.zeros(1, dtype=torch.long),
                                   1, "cpu", crop_padding=2)
    for seed in range(10):
        torch.manual_seed(seed)
        out = data.random_crop_flip(image)[0, 0]
        padded = torch.nn.functional.pad(image[0, 0], (2, 2, 2, 2))
        windows = [padded[y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(out, w) or torch.equal(out, w.flip(-1)) for w in windows)


@pytest.mark.parametrize("padding", [2, 3])
def test_crop_offsets_span_exactly_the_padding_param(ci_params, padding):
    """paper IV-A: 32x32 crops from 36x36 zero-padded images, i.e. offsets -2..2 on each axis; the
    loader takes the padding from the params."""
    data = load_dataset(ci_params(crop_padding=padding), "cpu")
    image = torch.arange(1, 37, dtype=torch.uint8).view(1, 1, 6, 6).repeat(400, 3, 1, 1)
    torch.manual_seed(0)
    out = data.random_crop_flip(image)[:, 0]
    shifts = set()
    for crop in out:
        crop = crop if crop[crop > 0].flatten()[:2].diff().item() == 1 else crop.flip(-1)  # undo a flip
        row, col = divmod(int(crop[crop > 0].min()) - 1, 6)  # the top-left image pixel inside the crop
        first_row, first_col = map(int, torch.nonzero(crop == crop[crop > 0].min())[0])
        shifts.add((first_row - row, first_col - col))
    assert shifts == {(dy, dx) for dy in range(-padding, padding + 1) for dx in range(-padding, padding + 1)}


def test_an_image_folder_tree_of_another_class_count_is_no_cifar10(tmp_path, ci_params):
    make_image_folder(tmp_path / "cifar10", classes=3, train_per_class=2, test_per_class=1, size=8)
    with pytest.raises(DataError, match="cifar10/train holds 3 class folders, CIFAR-10 has 10; for other data use"
                                        " `dataset: image-folder`"):
        load_dataset(ci_params(data_root=str(tmp_path)), "cpu")
