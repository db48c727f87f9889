"""What each method picked, as pictures (`picks_gallery`): for one seed and cycle the first N items each
method queried, drawn as the task needs -- images with their class (classification), crowd images with
their head counts, person crops with their annotated poses; `batch_detail`, one method's batch as a table.
From the stored picks and the study's dataset; nothing is trained.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..data.generated_pose import LIMBS  # the MPII skeleton, joint order of tasks.MPII_JOINTS
from ..data.mpii import CONTEXT
from .figure_style import palette
from .labels import method_label, ordered
from .picks import batch, check_indices, class_names, pool_labels


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Every s-th pixel so that the longer side is at most max_side (s >= 1), and s."""
    step = max(1, int(np.ceil(max(image.shape[:2]) / max_side)))
    return image[::step, ::step], step


def _hwc(images) -> list[np.ndarray]:
    return [np.ascontiguousarray(x) for x in images.detach().cpu().permute(0, 2, 3, 1).numpy()]


def classification_tiles(data, indices: list[int], max_side: int = 128):
    """Images of the picked pool items with their class names; no overlay."""
    labels = pool_labels(data)
    names = class_names(data, int(data.num_classes or labels.max() + 1))
    images = [_shrink(x, max_side)[0] for x in _hwc(data.train_images[indices])]
    return images, [names[labels[i]] for i in indices], [None] * len(indices)


def crowd_tiles(data, indices: list[int], max_side: int = 160):
    """Crowd images of the picked pool items with their annotated head counts; no overlay."""
    images = [_shrink(x, max_side)[0] for x in _hwc(data.train_images[indices])]
    return images, [f"{data.count(i)} heads" for i in indices], [None] * len(indices)


def pose_joints_in_crop(data, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(16, 2) annotated joints of pool person `index` in the pixels of its stored context crop, and
    their visibility: crop pixel q shows original pixel center + (q - size / 2) x CONTEXT x box / size."""
    split = data.train
    size = split["crops"].shape[-1]
    k = CONTEXT * float(split["box"][index]) / size
    joints = split["joints"][index].detach().cpu().numpy().astype(float)
    center = split["center"][index].detach().cpu().numpy().astype(float)
    return (joints - center) / k + size / 2, split["visible"][index].detach().cpu().numpy() > 0


def pose_tiles(data, indices: list[int], max_side: int = 128):
    """Person crops of the picked pool items, their annotated poses as overlays (joints, limbs)."""
    images, overlays = [], []
    for i, crop in zip(indices, _hwc(data.train["crops"][indices])):
        image, step = _shrink(crop, max_side)
        joints, visible = pose_joints_in_crop(data, i)
        images.append(image)
        overlays.append(("pose", joints / step, visible))
    return images, [f"{int(v.sum())} joints" for _, _, v in overlays], overlays


GALLERY_TILES = {"classification": classification_tiles, "crowd_counting": crowd_tiles, "pose": pose_tiles}


def _draw_pose(ax, joints: np.ndarray, visible: np.ndarray, x0: float, y0: float) -> None:
    for a, b in LIMBS:
        if visible[a] and visible[b]:
            ax.plot([x0 + joints[a, 0], x0 + joints[b, 0]], [y0 + joints[a, 1], y0 + joints[b, 1]], color="yellow",
                    linewidth=1)
    shown = joints[visible]
    ax.plot(x0 + shown[:, 0], y0 + shown[:, 1], "o", ms=2, color="red", linestyle="none")


def caption_band(height: int) -> int:
    """White pixels under each gallery row for its two caption lines."""
    return max(2, int(round(0.5 * height)))


def picks_gallery(picks: pd.DataFrame, data, seed: int, cycle: int, n: int = 8, methods=None, ax=None, gap: int = 2):
    """The first `n` items each method queried at (seed, cycle), in stored order: one row per method, one
    mosaic image (tile (r, c) at x = c (w + gap), y = r (h + caption_band(h))); each tile captioned under it
    with its pool index and what the task knows of it (class, head count, visible joints), poses drawn
    on the crops. Dispatches on `data.task` (GALLERY_TILES)."""
    if data.task not in GALLERY_TILES:
        raise ValueError(f"no picture for task {data.task}; known: {', '.join(GALLERY_TILES)}")
    check_indices(picks, data.n_pool)
    chosen = picks[(picks.seed == seed) & (picks.cycle == cycle)]
    methods = ordered(set(chosen.method)) if methods is None else [m for m in methods if m in set(chosen.method)]
    if not methods:
        raise ValueError(f"no method has picks at seed {seed}, cycle {cycle}")
    rows = [(m, batch(chosen, m, seed, cycle)[:n]) for m in methods]
    tiles = {m: GALLERY_TILES[data.task](data, indices) for m, indices in rows}
    h, w = next(iter(tiles.values()))[0][0].shape[:2]
    band = caption_band(h)
    cols = max(len(indices) for _, indices in rows)
    mosaic = np.full((len(rows) * (h + band), cols * (w + gap), 3), 255, dtype=np.uint8)
    ax = ax or plt.subplots(figsize=(1.3 * cols + 1.5, 1.45 * len(rows) + 0.6))[1]
    for r, (method, _) in enumerate(rows):
        for c, image in enumerate(tiles[method][0]):
            mosaic[r * (h + band):r * (h + band) + h, c * (w + gap):c * (w + gap) + w] = image
    ax.imshow(mosaic, interpolation="nearest")
    for r, (method, indices) in enumerate(rows):
        _, captions, overlays = tiles[method]
        for c, (index, caption, overlay) in enumerate(zip(indices, captions, overlays)):
            x0, y0 = c * (w + gap), r * (h + band)
            ax.text(x0 + w / 2, y0 + h + 0.05 * band, f"#{index}\n{caption}", ha="center", va="top", fontsize=6)
            if overlay is not None and overlay[0] == "pose":
                _draw_pose(ax, overlay[1], overlay[2], x0, y0)
    colours = palette(methods)
    ax.set_xticks([])
    ax.set_yticks([r * (h + band) + h / 2 for r in range(len(rows))], [method_label(m) for m in methods])
    for label, method in zip(ax.get_yticklabels(), methods):
        label.set_color(colours[method])
    ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
    ax.set_title(f"First {cols} items each method queried at cycle {cycle}, seed {seed} (in the order stored;"
                 " #pool index)", fontsize=9)
    return ax


def batch_detail(picks: pd.DataFrame, data, method: str, seed: int, cycle: int) -> pd.DataFrame:
    """One method's batch at (seed, cycle), in stored order: pool index, what the task knows of the item
    (class, head count, visible joints; without `data`, the dataset not on disk, no such column) and which
    other methods picked it at the same seed and cycle."""
    indices = batch(picks, method, seed, cycle)
    if not indices:
        raise ValueError(f"{method} has no picks at seed {seed}, cycle {cycle}")
    items = {}
    if data is not None:
        check_indices(picks, data.n_pool)
        items["item"] = GALLERY_TILES[data.task](data, indices)[1]
    others = {m: set(batch(picks, m, seed, cycle)) for m in ordered(set(picks.method) - {method})}
    also = [", ".join(method_label(m) for m, picked in others.items() if i in picked) for i in indices]
    frame = pd.DataFrame({"pool index": indices, **items, "also picked by": also},
                         index=pd.RangeIndex(1, len(indices) + 1, name="order"))
    frame.columns.name = f"{method_label(method)}, seed {seed}, cycle {cycle}"
    return frame
