"""Image-classification data read from disk batch by batch through a DataLoader, for data too large to
hold on the device (params `data_loading`, `device_data_gib`).

The images stay files. DataLoader workers decode (and resize) each batch ahead of its use; the main
process then finishes it on the device exactly as a device-resident batch is finished
(`ImageClassificationData.prepared`): the crop and flip are drawn from the same generator at the same
point of the run, and the normalisation is the same. A study therefore gives the same numbers to the
last digit whichever way its images are held (tests/data/test_own_images.py runs one both ways).
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from .base import ImageClassificationData, Normalisation
from .image_folder import decode_rgb


class ImageFiles(Dataset):
    """Image files decoded to uint8 (3, size, size); an item is a list of positions -> (B, 3, size, size)."""

    def __init__(self, files, size: int):
        self.files, self.size = list(files), size

    def __len__(self) -> int:
        return len(self.files)

    def read(self, positions: list[int]) -> torch.Tensor:
        return torch.stack([decode_rgb(self.files[i], self.size) for i in positions])

    def __getitem__(self, positions):
        try:
            return self.read(positions)
        except DataError as error:
            # handed back, not raised: a worker's exception reaches the main process wrapped in its traceback,
            # and a broken image must stay a one-line error naming the file
            return error


def read_batches(files: ImageFiles, batches: list[list[int]], workers: int, pin_memory: bool = False):
    """uint8 image batches of `files` at each list of positions, in order; `workers` processes decode ahead."""
    # the loader draws its workers' base seed from a generator of its own, never from the global one the
    # study's augmentation is drawn from; decoding itself draws nothing
    loader = DataLoader(files, batch_size=None, sampler=batches, num_workers=workers, pin_memory=pin_memory,
                        generator=torch.Generator())
    for images in loader:
        if isinstance(images, DataError):
            raise images
        yield images


class StreamedImageData(ImageClassificationData):
    """`ImageClassificationData` whose images are files read as they are needed; the labels, the
    augmentation and the normalisation (its statistics given, computed over the pool beforehand) are
    the device-resident data's."""

    def __init__(self, name, train_files, train_labels, test_files, test_labels, num_classes, device, image_size: int,
                 statistics: tuple, workers: int, crop_padding: int = 2, augment: bool = True):
        # not the parent's __init__: it would hold the decoded images
        self.name, self.num_classes, self.device = name, num_classes, torch.device(device)
        self.train_files, self.test_files = ImageFiles(train_files, image_size), ImageFiles(test_files, image_size)
        self.train_labels, self.test_labels = train_labels.to(self.device), test_labels.to(self.device)
        self.n_pool, self.n_test = len(train_labels), len(test_labels)
        self.crop_padding, self.augment, self.workers = crop_padding, augment, workers
        self.normalise = Normalisation(*statistics, self.device)

    def _batches(self, files: ImageFiles, labels: torch.Tensor, batches, augment: bool):
        batches = list(batches)
        pin = self.device.type == "cuda"
        for images, index in zip(read_batches(files, [b.tolist() for b in batches], self.workers, pin), batches):
            yield self.prepared(images.to(self.device, non_blocking=pin), augment), labels[index]

    def train_batches(self, batches, augment=True):
        return self._batches(self.train_files, self.train_labels, batches, augment)

    def test_batches(self, batches):
        return self._batches(self.test_files, self.test_labels, batches, False)

    # a single batch (VAAL's interleaved batches, a check's probe): decoded here, no worker to start
    def train_batch(self, index, augment=True):
        return self.prepared(self.train_files.read(index.tolist()).to(self.device), augment), self.train_labels[index]

    def test_batch(self, index):
        return self.prepared(self.test_files.read(index.tolist()).to(self.device), False), self.test_labels[index]
