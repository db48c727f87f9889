"""CIFAR-10: torchvision's official files, or an ImageFolder tree (`train/<class>/*.jpg`,
`test/<class>/*.jpg`, class folders sorting into the official label order) such as the offline mirror."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..paths import data_root
from .base import ImageClassificationData, fixed_parts, register_dataset
from .image_folder import load_image_folder

HOW_TO_GET = ("get it with `make data-offline` (unpacks ../shared/data/cifar10-jpeg.tar.xz) or set"
              " `download: true` in the params to fetch the official files with torchvision")


@register_dataset("cifar10")
class Cifar10:
    train_size, test_size, num_classes = 50000, 10000, 10
    task = ImageClassificationData.task

    @classmethod
    def pool_size(cls, params) -> int:
        return params.pool_size or cls.train_size

    @classmethod
    def load_arrays(cls, params):
        """-> (train_images, train_labels, test_images, test_labels) as uint8 (N, 3, 32, 32) / int64."""
        root = data_root(params, "cifar10")
        if (root / "cifar-10-batches-py").is_dir() or (params.download and not (root / "train").is_dir()):
            return _torchvision_arrays(root, params.download)
        if (root / "train").is_dir() and (root / "test").is_dir():
            arrays = (*load_image_folder(root / "train"), *load_image_folder(root / "test"))
            folders = int(arrays[1].max()) + 1  # every class folder holds images (list_image_folder)
            if folders != cls.num_classes:
                raise DataError(f"{root / 'train'} holds {folders} class folders, CIFAR-10 has {cls.num_classes}; for"
                                " other data use `dataset: image-folder` (docs/extending.md)")
            return arrays
        raise DataError(f"CIFAR-10 not found at {root} (looked for cifar-10-batches-py/ and train/ + test/); {HOW_TO_GET}")

    @classmethod
    def load(cls, params, device) -> ImageClassificationData:
        train_x, train_y, test_x, test_y = cls.load_arrays(params)
        (train_x, train_y), (test_x, test_y) = fixed_parts(params, (train_x, train_y), (test_x, test_y))
        return ImageClassificationData("cifar10", train_x, train_y, test_x, test_y, cls.num_classes, device,
                                       crop_padding=params.crop_padding, augment=params.augment)


def _torchvision_arrays(root: Path, download: bool):
    from torchvision.datasets import CIFAR10  # noqa: PLC0415

    try:
        splits = [CIFAR10(str(root), train=train, download=download) for train in (True, False)]
    except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
        raise DataError(f"CIFAR-10 at {root}: {error}; {HOW_TO_GET}") from None
    arrays = []
    for split in splits:
        arrays += [torch.from_numpy(np.ascontiguousarray(split.data.transpose(0, 3, 1, 2))),
                   torch.tensor(split.targets, dtype=torch.int64)]
    return tuple(arrays)
