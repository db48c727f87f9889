"""Small generated image datasets in the official on-disk layouts, for tests and the ci profile.

Each class is a distinct colour and stripe pattern plus noise, so a tiny model learns something
and the loop's metrics move; nothing here is a stand-in for a real result.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image


def make_image_folder(root: str | Path, classes: int = 10, train_per_class: int = 12, test_per_class: int = 4,
                      size: int = 32, seed: int = 0) -> Path:
    """Write root/{train,test}/<class_k>/<i>.png and return root."""
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for label in range(classes):
        colour = torch.rand(3, 1, 1, generator=generator) * 200
        stripes = ((xs * (label % 4 + 1) + ys * (label // 4)) % 8 < 4).float() * 55
        for split, count in (("train", train_per_class), ("test", test_per_class)):
            folder = root / split / f"class_{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                noise = torch.rand(3, size, size, generator=generator) * 40
                image = (colour + stripes + noise).clamp(0, 255).to(torch.uint8)
                Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
    return root


PHOTO_CLASSES = ("red", "green", "blue")


def make_photos(root: str | Path, truth_csv: str | Path | None = None, per_class: int = 20, seed: int = 0) -> dict[str, str]:
    """Write root/photo_<k>.<png|jpg|bmp>, images of many sizes (20 to 44 pixels a side, not square) whose
    class is their dominant colour (PHOTO_CLASSES, in turn: photo_000 red, photo_001 green, ...), and
    return {relative path: class}; `truth_csv` receives the same as path,label rows. Each image mixes in
    a random share (up to half) of another class's colour, so that some are hard to tell: what an
    uncertainty strategy should pick. Data for the labeling round trip (docs/extending.md), whose picks
    a test labels from this ground truth."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    truth = {}
    for k in range(per_class * len(PHOTO_CLASSES)):
        label = k % len(PHOTO_CLASSES)
        height, width = (int(v) for v in torch.randint(20, 45, (2,), generator=generator))
        image = torch.rand(3, height, width, generator=generator) * 90
        other = (label + 1 + int(torch.randint(0, len(PHOTO_CLASSES) - 1, (1,), generator=generator))) % len(PHOTO_CLASSES)
        share = 0.5 * torch.rand(1, generator=generator).item()
        image[label] += 140 * (1 - share)
        image[other] += 140 * share
        name = f"photo_{k:03d}.{('png', 'jpg', 'bmp')[k // len(PHOTO_CLASSES) % 3]}"  # every class in every format
        Image.fromarray(image.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()).save(root / name)
        truth[name] = PHOTO_CLASSES[label]
    if truth_csv is not None:
        Path(truth_csv).write_text("path,label\n" + "".join(f"{path},{label}\n" for path, label in truth.items()))
    return truth
