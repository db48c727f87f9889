"""Decode an ImageFolder tree (`<root>/<class>/<image>`) once into uint8 tensors, with a cache.

Decoding 60k small JPEGs takes several seconds; the cache (`.l2ral-cache-<split>.pt` beside the
class folders, keyed by the file list) makes every later study start in well under a second.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def list_image_folder(root: Path) -> tuple[list[Path], list[int], list[str]]:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise DataError(f"{root} holds no class folders (expected {root}/<class>/<image>)")
    files, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                files.append(path)
                labels.append(label)
    return files, labels, classes


def decode_rgb(path: Path) -> torch.Tensor:
    """uint8 (3, H, W); a truncated or corrupt file is a DataError naming it."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:  # truncated files raise OSError on load
        raise DataError(f"cannot decode image {path}: {error}; re-extract or delete it") from None
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def load_image_folder(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images uint8 (N, 3, H, W) (all the same size), labels int64 (N,)."""
    files, labels, _ = list_image_folder(root)
    listing = "\n".join(f"{p.relative_to(root)} {p.stat().st_size}" for p in files)
    key = hashlib.sha256(listing.encode()).hexdigest()[:16]
    cache = root / f".l2ral-cache-{key}.pt"
    if cache.is_file():
        cached = torch.load(cache)
        return cached["images"], cached["labels"]
    images = [decode_rgb(path) for path in files]
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) != 1:
        raise DataError(f"images under {root} differ in size ({sorted(shapes)[:3]}...); resize them to one size")
    result = torch.stack(images), torch.tensor(labels, dtype=torch.int64)
    _save_cache(cache, {"images": result[0], "labels": result[1]})
    return result


def _save_cache(path: Path, payload: dict) -> None:
    """Best effort: a read-only data folder simply goes without a cache."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
