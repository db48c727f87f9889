"""CelebA gender (paper Sec. IV-B, Fig. 6): the `Male` attribute of the aligned faces, resized to 64x64.

Reads the official layout directly -- `<root>/celeba/list_attr_celeba.txt`, `list_eval_partition.txt`,
`img_align_celeba/*.jpg` -- and needs none of the identity, bbox or landmark files (torchvision's
`CelebA` class refuses a folder without them; it is used only to download, when `download: true`).

Split: the official one (partition 0 = the pool, 2 = the test set; 1, validation, is unused) whenever
test-partition images are on disk. A copy without them (the offline mirror: the first 10,000 images,
all in partition 0) gets a carved split instead: a fixed random permutation of the train-partition
images present, its last 2,000 (at most a fifth) are the test set. Either way only listed images
that exist on disk are used, and the returned data says which split it used in `split_note`.

Images are decoded once, resized (antialiased bilinear) to 64x64 and cached as one uint8 tensor
beside the label files (`.l2ral-cache-celeba64-<key>.pt`, keyed by the file list and sizes).
"""
from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from ..errors import DataError
from ..paths import data_root
from .base import ImageClassificationData, fixed_parts, register_dataset
from .image_folder import decode_rgb, save_cache

ATTR_FILE, PARTITION_FILE, IMAGE_DIR = "list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"
TARGET_ATTRIBUTE = "Male"
IMAGE_SIZE = 64
CARVED_TEST_SIZE, CARVED_SEED = 2000, 0
HOW_TO_GET = ("get it with `make data-offline` (unpacks ../shared/data/celeba-first10k-89x109.tar.xz: 10,000 images,"
              " a carved split) or set `download: true` in the params to fetch the official files with torchvision")


@register_dataset("celeba")
class CelebA:
    train_size, test_size, num_classes = 162770, 19962, 2  # official partitions 0 and 2
    task = ImageClassificationData.task

    @classmethod
    def pool_size(cls, params) -> int:
        """The official training partition (a partial copy holds fewer: checked after loading)."""
        return params.pool_size or cls.train_size

    @classmethod
    def split(cls, params) -> Split:
        """Which images form the pool and the test set, from the label files and a directory listing
        (no decoding: about a second), with the one-line `note` saying which split that is."""
        root = data_root(params, "celeba")
        if params.download and _missing(root):
            _download(root)
        missing = _missing(root)
        if missing:
            raise DataError(f"CelebA not found at {root} (missing {', '.join(missing)}); {HOW_TO_GET}")
        labels = read_attribute(root / ATTR_FILE, TARGET_ATTRIBUTE)
        partition = read_partition(root / PARTITION_FILE)
        present = set(os.listdir(root / IMAGE_DIR))
        train = sorted(n for n, p in partition.items() if p == 0 and n in present and n in labels)
        test = sorted(n for n, p in partition.items() if p == 2 and n in present and n in labels)
        official_train = sum(p == 0 for p in partition.values())
        official_test = sum(p == 2 for p in partition.values())
        if test:
            if not train:
                raise DataError(f"CelebA at {root}: no training-partition (0) images in {root / IMAGE_DIR}; {HOW_TO_GET}")
            kind = "official"
            note = (f"official split: pool = partition 0 ({len(train):,} of {official_train:,} images present),"
                    f" test = partition 2 ({len(test):,} of {official_test:,} present)")
        else:
            if len(train) < 2:
                raise DataError(f"CelebA at {root}: {len(train)} listed images found in {root / IMAGE_DIR}"
                                f" (need at least 2); {HOW_TO_GET}")
            kind = "carved"
            train, test = carve_split(train)
            note = (f"carved split: no test-partition (2) images on disk, so test = {len(test):,} of the"
                    f" {len(train) + len(test):,} training-partition images present (fixed permutation, seed"
                    f" {CARVED_SEED}), pool = the other {len(train):,}; not the official test set")
            print(f"celeba: {note}", file=sys.stderr)
        if params.pool_size is not None and params.pool_size < len(train):
            note += f"; pool_size: a fixed {params.pool_size:,} of the pool"
        if params.test_size is not None and params.test_size < len(test):
            note += f"; test_size: a fixed {params.test_size:,} of the test images"
        return Split(root, kind, train, test, labels, note)

    @classmethod
    def load_arrays(cls, params):
        """-> (train_images uint8 (N, 3, 64, 64), train_labels int64, test_images, test_labels, split)."""
        split = cls.split(params)
        names = sorted(split.train + split.test)
        images = decode_images(split.root / IMAGE_DIR, names)
        position = {name: i for i, name in enumerate(names)}

        def arrays(subset):
            index = torch.tensor([position[n] for n in subset], dtype=torch.int64)
            return images[index], torch.tensor([split.labels[n] for n in subset], dtype=torch.int64)

        return (*arrays(split.train), *arrays(split.test), split)

    @classmethod
    def load(cls, params, device) -> ImageClassificationData:
        train_x, train_y, test_x, test_y, split = cls.load_arrays(params)
        (train_x, train_y), (test_x, test_y) = fixed_parts(params, (train_x, train_y), (test_x, test_y))
        data = ImageClassificationData("celeba", train_x, train_y, test_x, test_y, cls.num_classes, device,
                                       crop_padding=params.crop_padding, augment=params.augment)
        data.split_note = split.note  # which split this is, for the notebook
        data.split_kind = split.kind  # "official" | "carved"
        return data


@dataclass
class Split:
    root: Path
    kind: str  # "official" | "carved"
    train: list[str]  # image names of the pool, sorted
    test: list[str]
    labels: dict[str, int]  # every listed image -> Male (1) or not (0)
    note: str


def _missing(root: Path) -> list[str]:
    if not root.is_dir():
        return [f"the folder {root}"]
    return [name + ("/" if name == IMAGE_DIR else "") for name in (ATTR_FILE, PARTITION_FILE, IMAGE_DIR)
            if not (root / name).exists()]


def _download(root: Path) -> None:
    """The official files through torchvision (Google Drive; needs `gdown`); then read as any folder."""
    from torchvision.datasets import CelebA as TorchvisionCelebA  # noqa: PLC0415

    try:
        TorchvisionCelebA(str(root.parent), split="all", target_type="attr", download=True)
    except Exception as error:  # noqa: BLE001 -- network, quota, missing gdown: all end the same way
        raise DataError(f"CelebA download into {root} failed: {error}; {HOW_TO_GET}") from None


def _lines(path: Path):
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}; re-extract it") from None
    return text.splitlines()


def read_attribute(path: Path, attribute: str = TARGET_ATTRIBUTE) -> dict[str, int]:
    """{image name: 1 if the attribute is 1 else 0} from list_attr_celeba.txt (a count line, the
    attribute names, then `<name> <+-1 x 40>`); any malformed line is a DataError naming file and line."""
    lines = _lines(path)

    def fail(number: int, what: str):
        raise DataError(f"{path}, line {number}: {what}; the file is malformed, re-extract or re-download it")

    if len(lines) < 2:
        fail(len(lines) + 1, "expected a count line and a line of attribute names")
    try:
        count = int(lines[0].strip())
    except ValueError:
        fail(1, f"expected the number of images, got {lines[0][:40]!r}")
    names = lines[1].split()
    if attribute not in names:
        fail(2, f"no '{attribute}' among the attribute names")
    column = names.index(attribute) + 1
    labels = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            fail(number, f"expected an image name and {len(names)} values, got {len(fields)} fields")
        value = fields[column]
        if value not in ("1", "-1"):
            fail(number, f"'{attribute}' is {value!r}, expected 1 or -1")
        if fields[0] in labels:
            fail(number, f"image {fields[0]} listed twice")
        labels[fields[0]] = 1 if value == "1" else 0
    if len(labels) != count:
        fail(1, f"announces {count} images, the file lists {len(labels)}")
    return labels


def read_partition(path: Path) -> dict[str, int]:
    """{image name: 0 train | 1 validation | 2 test} from list_eval_partition.txt."""
    partition = {}
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path}, line {number}: expected '<image> <0|1|2>', got {line[:60]!r};"
                            " the file is malformed, re-extract or re-download it")
        partition[fields[0]] = int(fields[1])
    return partition


def carve_split(names: list[str]) -> tuple[list[str], list[str]]:
    """(pool, test) of a list of images: the last min(2000, n // 5) (at least 1) of a fixed permutation are
    the test set; both keep the input order."""
    n_test = min(CARVED_TEST_SIZE, max(1, len(names) // 5))
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(CARVED_SEED))
    test = set(order[len(names) - n_test:].tolist())
    return [n for i, n in enumerate(names) if i not in test], [n for i, n in enumerate(names) if i in test]


def resize(image: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 (3, H, W) -> uint8 (3, size, size), antialiased bilinear (aspect ratio not kept, as the paper's resize)."""
    if tuple(image.shape[-2:]) == (size, size):
        return image
    out = F.interpolate(image[None].float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out[0].round_().clamp_(0, 255).to(torch.uint8)


def decode_images(folder: Path, names: list[str], size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 (N, 3, size, size) of `names` in order, from the cache when the file list is unchanged."""
    listing = "\n".join(f"{name} {(folder / name).stat().st_size}" for name in names)
    key = hashlib.sha256(f"{size}\n{listing}".encode()).hexdigest()[:16]
    cache = folder.parent / f".l2ral-cache-celeba{size}-{key}.pt"
    if cache.is_file():
        return torch.load(cache)["images"]
    images = torch.empty(len(names), 3, size, size, dtype=torch.uint8)

    def work(i):
        images[i] = resize(decode_rgb(folder / names[i]), size)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small resizes: parallel over images, not inside each one
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
            list(pool.map(work, range(len(names))))
    finally:
        torch.set_num_threads(threads)
    save_cache(cache, {"images": images, "names": names})
    return images
