"""What the study loop needs from a dataset, and the shared image-classification implementation.

Images stay one uint8 tensor on the run's device; a batch is gathered by index, augmented there
and normalised, so no per-image Python work sits in the training loop.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from ..paths import data_root
from ..registry import Registry


def fixed_subset(n: int, size: int | None, seed: int) -> torch.Tensor | None:
    """Indices of a fixed random part of n items (the same for every seed and method), sorted."""
    if size is None or size >= n:
        return None
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[:size].sort().values


class FolderDataset:
    """A loader reading one folder of the data root. A `generated` variant writes its small stand-in
    data there on first use (tests and CPU profiles of datasets with no offline copy)."""

    folder: str
    generated = False
    train_size: int

    @classmethod
    def pool_size(cls, params) -> int:
        return params.pool_size or cls.train_size

    @classmethod
    def is_present(cls, root: Path) -> bool:
        raise NotImplementedError

    @classmethod
    def make_generated(cls, root: Path) -> None:
        raise NotImplementedError

    @classmethod
    def root(cls, params) -> Path:
        root = data_root(params, cls.folder)
        if cls.generated and not cls.is_present(root):
            # written whole under a temporary name, then renamed: a kill mid-write never leaves a
            # folder that looks present but lacks images (a generated folder holds nothing else)
            partial = root.with_name(f".{root.name}.partial{os.getpid()}")
            shutil.rmtree(partial, ignore_errors=True)
            cls.make_generated(partial)
            shutil.rmtree(root, ignore_errors=True)
            try:
                os.rename(partial, root)
            except OSError:
                shutil.rmtree(partial, ignore_errors=True)
                if not cls.is_present(root):  # not a concurrent process that finished first
                    raise
        return root


def take(items, keep: torch.Tensor | None):
    """`items` at the indices `keep` (None: all): a tensor, an array or a list, or a tuple or dict of
    such aligned along their first dimension."""
    if keep is None:
        return items
    if isinstance(items, tuple):
        return tuple(take(item, keep) for item in items)
    if isinstance(items, dict):
        return {key: take(item, keep) for key, item in items.items()}
    if isinstance(items, list):
        return [items[i] for i in keep.tolist()]
    return items[keep] if isinstance(items, torch.Tensor) else items[keep.numpy()]


def _length(items) -> int:
    if isinstance(items, tuple):
        items = items[0]
    elif isinstance(items, dict):
        items = next(iter(items.values()))
    return len(items)


def fixed_parts(params, train, test):
    """Apply `pool_size` / `test_size` to the training and test items (see `take`): the same fixed
    random parts for every seed and method."""
    return (take(train, fixed_subset(_length(train), params.pool_size, seed=0)),
            take(test, fixed_subset(_length(test), params.test_size, seed=1)))


def exact_channel_statistics(batches) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) standard deviation of uint8 images (B, C, H, W) given in any number
    of batches, on the [0, 1] scale, as float32. Integer sums, so the result does not depend on how the
    images are split into batches or where they are read from (device-resident or streamed from disk)."""
    sums, squares, count = 0, 0, 0
    for images in batches:
        wide = images.to(torch.int64)
        sums = sums + wide.sum((0, 2, 3))
        squares = squares + wide.square().sum((0, 2, 3))
        count += images.shape[0] * images.shape[2] * images.shape[3]
    if count < 2:
        raise ValueError("channel statistics need at least two pixels")
    # Python integers from here: exact, and the one rounding is the division to float
    mean = [s / (255 * count) for s in sums.tolist()]
    var = [(q * count - s * s) / (count * (count - 1)) / 255 ** 2 for s, q in zip(sums.tolist(), squares.tolist())]
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(var, dtype=torch.float64).sqrt().float()


class Normalisation:
    """(uint8 images (B, C, H, W) / 255 - mean) / std per channel, the statistics on the data's device."""

    def __init__(self, mean, std, device):
        self.mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255 - self.mean) / self.std


class StudyData:
    """A pool (the training set, labels revealed when queried) and a test set, both on `device`."""

    name: str
    task: str  # name in l2ral_lib.tasks
    num_classes: int | None = None
    n_pool: int
    device: torch.device
    n_test: int

    def train_batch(self, index: torch.Tensor, augment: bool = True):
        """(inputs float (B, ...), targets) of pool items `index` (LongTensor on the device)."""
        raise NotImplementedError

    def test_batch(self, index: torch.Tensor):
        raise NotImplementedError

    def train_batches(self, batches, augment: bool = True):
        """`train_batch` of each index batch in turn, computed when the caller asks for it: a draw of the
        augmentation happens where a single `train_batch` would. The loops that know their batches ahead
        (an epoch, an evaluation, a scoring pass) read through this, so data streamed from disk can read
        ahead (streaming.py)."""
        for index in batches:
            yield self.train_batch(index, augment)

    def test_batches(self, batches):
        for index in batches:
            yield self.test_batch(index)


class ImageClassificationData(StudyData):
    """uint8 images (N, C, H, W) + int64 labels (N,), per-channel normalisation from the pool,
    training augmentation = random crop (size unchanged) from the image zero-padded by `crop_padding`
    pixels per side + horizontal flip (paper IV-A: 32x32 from 36x36, i.e. padding 2)."""

    task = "classification"

    def __init__(self, name, train_images, train_labels, test_images, test_labels, num_classes, device,
                 crop_padding: int = 2, augment: bool = True, statistics: tuple | None = None):
        self.name = name
        self.num_classes = num_classes
        self.device = torch.device(device)
        self.train_images = train_images.to(self.device)
        self.train_labels = train_labels.to(self.device)
        self.test_images = test_images.to(self.device)
        self.test_labels = test_labels.to(self.device)
        self.n_pool, self.n_test = len(train_labels), len(test_labels)
        self.crop_padding = crop_padding
        self.augment = augment
        if statistics is None:  # the float32 reduction the shipped studies ran with
            pixels = self.train_images.float().div_(255).transpose(0, 1).flatten(1)
            statistics = pixels.mean(1), pixels.std(1)
            del pixels
        self.normalise = Normalisation(*statistics, self.device)

    def random_crop_flip(self, images: torch.Tensor) -> torch.Tensor:
        """Batched crop (size unchanged) from the zero-padded images, then a random horizontal flip."""
        b, _, h, w = images.shape
        p = self.crop_padding
        padded = torch.nn.functional.pad(images, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (b, 1), device=images.device)
        dx = torch.randint(0, 2 * p + 1, (b, 1), device=images.device)
        rows = (dy + torch.arange(h, device=images.device))[:, None, :, None]  # (B, 1, H, 1)
        cols = (dx + torch.arange(w, device=images.device))[:, None, None, :]  # (B, 1, 1, W)
        batch = torch.arange(b, device=images.device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
        cropped = padded[batch, channel, rows, cols]
        flip = torch.rand(b, device=images.device) < 0.5
        return torch.where(flip[:, None, None, None], cropped.flip(-1), cropped)

    def prepared(self, images: torch.Tensor, augment: bool) -> torch.Tensor:
        """uint8 images on the device -> the model's float inputs: augmented (where asked and enabled), normalised."""
        if augment and self.augment:
            images = self.random_crop_flip(images)
        return self.normalise(images)

    def train_batch(self, index, augment=True):
        return self.prepared(self.train_images[index], augment), self.train_labels[index]

    def test_batch(self, index):
        return self.prepared(self.test_images[index], False), self.test_labels[index]


# name -> loader class: `.task` (the name in l2ral_lib.tasks), `.pool_size(params)` (known without
# loading, or None), `.load(params, device) -> StudyData`
DATASETS = Registry("dataset", plugins="l2ral.datasets")
register_dataset, list_datasets, get_dataset = DATASETS.register, DATASETS.names, DATASETS.get


def load_dataset(params, device) -> StudyData:
    return get_dataset(params.dataset).load(params, device)
