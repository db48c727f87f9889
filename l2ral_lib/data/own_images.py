"""Your own image-classification data: any number of classes, any image sizes, any format Pillow reads,
every image resized to `image_size`. Two layouts of the folder `data_root` names:

- `image-folder`: `train/<class>/<image>` and `test/<class>/<image>`; class k is the k-th training
  folder name in sorted order;
- `image-csv`: `train.csv` and `test.csv` with the columns `path,label` (paths relative to the folder,
  labels any strings), for data not laid out by class; class k is the k-th label name in sorted order.

The data is held on the device when it fits (`data_loading`: auto, device, stream; `device_data_gib`),
else streamed from disk (streaming.py); either way the same numbers come out. `image_data` builds both
from file lists, for these datasets and for the labeling round trip (labeling.py).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DataError, ParamsError
from .base import ImageClassificationData, exact_channel_statistics, fixed_parts, register_dataset
from .image_folder import list_image_folder, listing_key, read_labels_csv, save_cache
from .streaming import ImageFiles, StreamedImageData, read_batches

READ_BATCH = 256  # images per batch decoded (or counted for the statistics) when the data is loaded


def held_on_device(params, n_images: int) -> bool:
    """Whether `n_images` decoded images are held on the device (else streamed): `data_loading`, and for
    auto their decoded size (3 x image_size^2 bytes each) against `device_data_gib`."""
    if params.data_loading != "auto":
        return params.data_loading == "device"
    return n_images * 3 * params.image_size ** 2 <= params.device_data_gib * 2 ** 30


def _chunks(n: int) -> list[list[int]]:
    return [list(range(start, min(start + READ_BATCH, n))) for start in range(0, n, READ_BATCH)]


def decode_all(files: list[Path], size: int, workers: int, cache_root: Path | None) -> torch.Tensor:
    """uint8 (N, 3, size, size) of `files`, decoded by the streamed data's own reader (the same bytes either
    way); cached in `cache_root` (keyed by the file list and size) where one is given."""
    if not files:
        return torch.empty(0, 3, size, size, dtype=torch.uint8)
    cache = cache_root / f".l2ral-cache-{listing_key(files, cache_root, size)}.pt" if cache_root else None
    if cache and cache.is_file():
        return torch.load(cache)["images"]
    images = torch.cat(list(read_batches(ImageFiles(files, size), _chunks(len(files)), workers)))
    if cache:
        save_cache(cache, {"images": images})
    return images


def streamed_statistics(files: list[Path], size: int, workers: int, cache_root: Path | None) -> tuple:
    """The pool's channel statistics read through the streamed reader (one pass over the files), cached
    like `decode_all`."""
    cache = cache_root / f".l2ral-stats-{listing_key(files, cache_root, size)}.pt" if cache_root else None
    if cache and cache.is_file():
        cached = torch.load(cache)
        return cached["mean"], cached["std"]
    mean, std = exact_channel_statistics(read_batches(ImageFiles(files, size), _chunks(len(files)), workers))
    if cache:
        save_cache(cache, {"mean": mean, "std": std})
    return mean, std


def image_data(name: str, train: tuple[list[Path], list[int]], test: tuple[list[Path], list[int]], classes: list[str],
               params, device, cache_root: Path | None = None) -> ImageClassificationData:
    """Classification data of image files with labels (indices into `classes`), held on the device or
    streamed (`held_on_device`); the pool's statistics are exact integer sums either way, so both give
    the same inputs. `data.classes` names the classes."""
    (train_files, train_labels), (test_files, test_labels) = train, test
    size, workers = params.image_size, params.loader_workers
    train_y, test_y = torch.tensor(train_labels, dtype=torch.int64), torch.tensor(test_labels, dtype=torch.int64)
    if held_on_device(params, len(train_files) + len(test_files)):
        train_x = decode_all(train_files, size, workers, cache_root)
        statistics = exact_channel_statistics(train_x.split(READ_BATCH))
        data = ImageClassificationData(name, train_x, train_y, decode_all(test_files, size, workers, cache_root), test_y,
                                       len(classes), device, crop_padding=params.crop_padding, augment=params.augment,
                                       statistics=statistics)
    else:
        statistics = streamed_statistics(train_files, size, workers, cache_root)
        data = StreamedImageData(name, train_files, train_y, test_files, test_y, len(classes), device, size, statistics,
                                 workers, crop_padding=params.crop_padding, augment=params.augment)
    data.classes = classes
    return data


class OwnImages:
    """What both layouts share: the folder `data_root` names, the fixed parts (`pool_size`, `test_size`)
    and `image_data`."""

    name = ""
    layout = ""  # what the folder must hold, for the messages
    task = ImageClassificationData.task
    streams = True  # data_loading: stream is possible

    @classmethod
    def pool_size(cls, params) -> None:
        return None  # known once the folder is listed: checks.check_study compares it

    @classmethod
    def check_params(cls, params) -> None:
        if not params.data_root:
            raise ParamsError("data_root", f"{cls.name} reads the folder data_root names ({cls.layout}); set it")

    @classmethod
    def listing(cls, root: Path):
        """-> ((train files, labels), (test files, labels), class names)."""
        raise NotImplementedError

    @classmethod
    def load(cls, params, device) -> ImageClassificationData:
        root = Path(params.data_root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root} not found: data_root names the folder holding {cls.layout}")
        train, test, classes = cls.listing(root)
        train, test = fixed_parts(params, train, test)
        return image_data(cls.name, train, test, classes, params, device, cache_root=root)


@register_dataset("image-folder")
class ImageFolder(OwnImages):
    name, layout = "image-folder", "train/<class>/<image> and test/<class>/<image>"

    @classmethod
    def listing(cls, root):
        train_files, train_labels, classes = list_image_folder(root / "train")
        test_files, test_labels, _ = list_image_folder(root / "test", classes)
        return (train_files, train_labels), (test_files, test_labels), classes


@register_dataset("image-csv")
class ImageCsv(OwnImages):
    name, layout = "image-csv", "train.csv and test.csv with the columns path,label (paths relative to the folder)"

    @classmethod
    def listing(cls, root):
        train_files, train_names = read_labels_csv(root / "train.csv", root)
        if not train_files:
            raise DataError(f"{root / 'train.csv'} lists no images")
        test_files, test_names = read_labels_csv(root / "test.csv", root)
        classes = sorted(set(train_names))
        unknown = sorted(set(test_names) - set(classes))
        if unknown:
            raise DataError(f"{root / 'test.csv'}: label '{unknown[0]}' has no training image in {root / 'train.csv'}"
                            " (no model trained on it could predict it); add training images of it or remove its rows")
        label = {name: k for k, name in enumerate(classes)}
        return ((train_files, [label[n] for n in train_names]), (test_files, [label[n] for n in test_names]), classes)
