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
