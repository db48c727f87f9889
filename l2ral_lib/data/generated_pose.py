"""A generated pose dataset in the MPII Simple Baselines layout, since MPII's images are not available
offline: one stick figure per image from random joint annotations, written with `annot/train.json`,
`annot/valid.json`, `annot/gt_valid.mat` (official field names) and `images/*.jpg`.

Figures face the camera (right-side joints on the image's left), so flipping with the left/right
swap keeps labels consistent; each limb type has its own colour, the head is a filled ellipse.
A few joints per figure are marked missing (`[-1, -1]`, `joints_vis` 0; `jnt_missing` 1), as in MPII.
Nothing here stands in for a real result: it makes the pipeline run and the PCKh move.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, ImageDraw

from ..tasks import MPII_JOINTS

# facing the camera, in units of body height, y down; order of MPII_JOINTS
TEMPLATE = np.array([[-0.08, 0.48], [-0.08, 0.25], [-0.07, 0.02], [0.07, 0.02], [0.08, 0.25], [0.08, 0.48],
                     [0.0, 0.02], [0.0, -0.30], [0.0, -0.34], [0.0, -0.50], [-0.20, 0.02], [-0.17, -0.13],
                     [-0.12, -0.30], [0.12, -0.30], [0.17, -0.13], [0.20, 0.02]])
LIMBS = [(0, 1), (1, 2), (5, 4), (4, 3), (2, 6), (3, 6), (6, 7), (7, 8), (10, 11), (11, 12), (15, 14), (14, 13),
         (12, 7), (13, 7)]
COLOURS = [(230, 60, 60), (230, 140, 40), (60, 200, 60), (40, 160, 230), (200, 60, 200), (200, 200, 40),
           (255, 255, 255), (120, 80, 40), (80, 240, 200), (60, 60, 230), (240, 120, 160), (150, 150, 250),
           (250, 250, 150), (100, 220, 100)]


def random_pose(rng, height: float) -> np.ndarray:
    """(16, 2) joints of a random figure of `height` pixels centred at the origin."""
    pose = TEMPLATE.copy()
    for shoulder, elbow, wrist, side in ((12, 11, 10, -1), (13, 14, 15, 1)):  # arms swing freely on their side
        a1, a2 = rng.uniform(-0.3, 1.6), rng.uniform(-0.5, 1.8)
        pose[elbow] = pose[shoulder] + 0.17 * np.array([side * np.sin(a1), np.cos(a1)])
        pose[wrist] = pose[elbow] + 0.15 * np.array([side * np.sin(a2), np.cos(a2)])
    for hip, knee, ankle, side in ((2, 1, 0, -1), (3, 4, 5, 1)):
        a1, a2 = rng.uniform(-0.2, 0.6), rng.uniform(-0.4, 0.4)
        pose[knee] = pose[hip] + 0.23 * np.array([side * np.sin(a1), np.cos(a1)])
        pose[ankle] = pose[knee] + 0.23 * np.array([side * np.sin(a2), np.cos(a2)])
    pose += rng.normal(0, 0.01, pose.shape)
    angle = rng.uniform(-0.35, 0.35)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return pose @ rotation.T * height


def make_pose_folder(root: str | Path, n_train: int = 600, n_valid: int = 120, seed: int = 0,
                     missing_rate: float = 0.05) -> Path:
    """Write root/{annot,images} in the Simple Baselines MPII layout and return root."""
    root = Path(root)
    (root / "annot").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    gt = {"pos_gt_src": [], "jnt_missing": [], "headboxes_src": []}
    for split, count in (("train", n_train), ("valid", n_valid)):
        entries = []
        for i in range(count):
            width, height = int(rng.integers(160, 241)), int(rng.integers(160, 241))
            body = rng.uniform(0.45, 0.8) * min(width, height)
            centre = np.array([rng.uniform(0.35, 0.65) * width, rng.uniform(0.4, 0.6) * height])
            joints = random_pose(rng, body) + centre  # 0-based pixels
            background = rng.normal(90, 25, (height, width, 3)) + rng.uniform(-40, 40, (1, 1, 3))
            image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(image)
            line = max(2, int(body * 0.035))
            for (a, b), colour in zip(LIMBS, COLOURS):
                draw.line([tuple(joints[a]), tuple(joints[b])], fill=colour, width=line)
            head_size = np.linalg.norm(joints[9] - joints[8])
            mid = (joints[9] + joints[8]) / 2
            draw.ellipse([mid[0] - head_size * 0.35, mid[1] - head_size * 0.5, mid[0] + head_size * 0.35,
                          mid[1] + head_size * 0.5], fill=(240, 200, 160))
            name = f"{split}_{i:05d}.jpg"
            image.save(root / "images" / name, quality=92)
            missing = rng.random(16) < missing_rate
            one_based = np.where(missing[:, None], -1.0, joints + 1)
            scale = body / 200
            # Simple Baselines adds 15 x scale to the center's y, so subtract it here to centre the box
            center = centre + 1 - np.array([0, 15 * scale]) + np.array([0, -0.01 * body])
            entries.append({"image": name, "center": center.round(3).tolist(), "scale": round(float(scale), 4),
                            "joints": one_based.round(3).tolist(), "joints_vis": (~missing).astype(int).tolist()})
            if split == "valid":
                gt["pos_gt_src"].append(one_based)
                gt["jnt_missing"].append(missing.astype(np.uint8))
                half = head_size / 2
                gt["headboxes_src"].append(np.array([mid - half, mid + half]) + 1)  # [[x1, y1], [x2, y2]]
        (root / "annot" / f"{split}.json").write_text(json.dumps(entries))
    names = np.empty((1, 16), dtype=object)
    for j, name in enumerate(MPII_JOINTS):
        names[0, j] = np.array([name])
    scipy.io.savemat(str(root / "annot" / "gt_valid.mat"), {
        "dataset_joints": names,
        "jnt_missing": np.stack(gt["jnt_missing"], 1),  # (16, N)
        "pos_gt_src": np.stack(gt["pos_gt_src"], 2),  # (16, 2, N)
        "headboxes_src": np.stack(gt["headboxes_src"], 2)})  # (2, 2, N)
    return root
