"""Reading image files: the class-folder layout (`<root>/<class>/<image>`), the CSV layout (`path,label`
rows, paths relative to a folder), decoding any format Pillow reads, and a decoded tree's cache.

Every problem a user can fix is a one-line DataError naming the path: a missing folder, a class folder
without images, a test class the training set lacks, an unreadable image, a malformed CSV.

Decoding 60k small JPEGs takes several seconds; the cache (`.l2ral-cache-<key>.pt` beside the class
folders, keyed by the file list) makes every later study start in well under a second.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError


@functools.cache
def image_suffixes() -> frozenset[str]:
    """File suffixes (lower case, with the dot) of every format this Pillow opens."""
    return frozenset(Image.registered_extensions())


def is_image(path: Path) -> bool:
    return path.suffix.lower() in image_suffixes() and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder`, its sub-folders included, hidden files and folders skipped, in
    sorted relative-path order (as text: `a/b.png` before `a/c.png` before `b.png`)."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        found += [Path(directory) / name for name in files if is_image(Path(name))]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def list_image_folder(root: Path, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    """-> (image files, their labels, class names) of `<root>/<class>/<image>`; class k is the k-th folder
    name in sorted order, or the k-th of `classes` (a test split takes the training split's classes, and
    a class folder not among them is an error: no model trained on the other split could predict it)."""
    if not root.is_dir():
        raise DataError(f"{root} not found (expected class folders {root}/<class>/<image>)")
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not found:
        raise DataError(f"{root} holds no class folders (expected {root}/<class>/<image>)")
    if classes is not None:
        unknown = [name for name in found if name not in classes]
        if unknown:
            raise DataError(f"{root / unknown[0]} is a class folder the training images lack (training classes:"
                            f" {', '.join(classes)}); add training images of it or remove it")
    classes = found if classes is None else classes
    files, labels = [], []
    for name in found:
        images = list_images(root / name)
        if not images:
            raise DataError(f"class folder {root / name} holds no images; add some or remove the folder")
        files += images
        labels += [classes.index(name)] * len(images)  # once per class
    return files, labels, classes


def read_labels_csv(path: Path, root: Path) -> tuple[list[Path], list[str]]:
    """-> (image files, label names) of a CSV with the columns `path` and `label` (others ignored), paths
    relative to `root`. Refused: a missing file, a header without both columns, a row without a label,
    a path that is no image file under `root`, a path listed twice."""
    if not path.is_file():
        raise DataError(f"{path} not found (expected a CSV with the columns path,label)")
    with open(path, newline="", encoding="utf-8-sig") as handle:  # utf-8-sig: a spreadsheet's byte-order mark
        rows = list(csv.reader(handle))
    header = [name.strip() for name in rows[0]] if rows else []
    if "path" not in header or "label" not in header:
        raise DataError(f"{path}: the header must name the columns path and label (got"
                        f" {','.join(header) if header else 'an empty file'})")
    at_path, at_label = header.index("path"), header.index("label")
    files, labels, seen = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        name = row[at_path].strip() if at_path < len(row) else ""
        label = row[at_label].strip() if at_label < len(row) else ""
        if not label:
            raise DataError(f"{path} line {line}: no label for '{name}'")
        file = root / name
        if not name or not file.is_file():
            raise DataError(f"{path} line {line}: image '{name}' not found under {root}")
        if not is_image(file):
            raise DataError(f"{path} line {line}: '{name}' is not an image file Pillow reads")
        if name in seen:
            raise DataError(f"{path} line {line}: '{name}' is listed twice (also line {seen[name]})")
        seen[name] = line
        files.append(file)
        labels.append(label)
    return files, labels


def decode_rgb(path: Path, size: int | None = None) -> torch.Tensor:
    """uint8 (3, H, W), or (3, size, size) resized (bilinear; the aspect ratio is not kept); a truncated,
    corrupt or unknown file is a DataError naming it."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            array = np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:  # truncated files: OSError on load
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot decode image {path}: {reason}; re-extract, convert or delete it") from None
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def listing_key(files: list[Path], root: Path, *extra) -> str:
    """A short hash of the files (relative path, size) and `extra`: what a cache of their decoding is valid for."""
    listing = "\n".join([f"{p.relative_to(root)} {p.stat().st_size}" for p in files] + [str(e) for e in extra])
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def load_image_folder(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images uint8 (N, 3, H, W) (all the same size), labels int64 (N,)."""
    files, labels, _ = list_image_folder(root)
    cache = root / f".l2ral-cache-{listing_key(files, root)}.pt"
    if cache.is_file():
        cached = torch.load(cache)
        return cached["images"], cached["labels"]
    images = [decode_rgb(path) for path in files]
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) != 1:
        raise DataError(f"images under {root} differ in size ({sorted(shapes)[:3]}...); resize them to one size")
    result = torch.stack(images), torch.tensor(labels, dtype=torch.int64)
    save_cache(cache, {"images": result[0], "labels": result[1]})
    return result


def save_cache(path: Path, payload: dict) -> None:
    """Best effort: a read-only data folder simply goes without a cache."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
