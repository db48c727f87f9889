"""MPII Human Pose (paper Sec. IV-C, Fig. 7) as Simple Baselines (Xiao et al., ECCV 2018) prepares it.

On-disk layout (Simple Baselines): `<root>/mpii/annot/{train,valid}.json` (entries `image, center, scale,
joints (16 x 2, 1-based pixels), joints_vis`), `annot/gt_valid.mat` (the official evaluation's
`pos_gt_src, jnt_missing, headboxes_src`, same order as valid.json) and `images/<image>`.

As Simple Baselines' MPIIDataset: center y += 15 x scale, scale x 1.25, both to 0-based pixels; the
crop is the square of side scale x 200 around the center, resampled to 256 x 256; targets are 64 x 64
Gaussian heatmaps (sigma 2, peak 1, 13 x 13 window, centred on the rounded joint) with target weight =
visibility (0 as well when the window falls wholly outside the map). Training augmentation: scale
x clip(N(1, 0.25), 0.75, 1.25), rotation clip(N(0, 30), -60, 60) degrees with probability 0.6,
horizontal flip with left/right joints swapped; ImageNet mean/std normalisation. No flip test.

For a device-resident study (no per-image decoding while training), each person is cropped once at
load time with 1.5x context (a 384 x 384 crop covering 1.5 x the box) and kept as uint8; the
augmentation is one batched `affine_grid`/`grid_sample` from that crop, and the heatmaps are drawn
from the transformed joints. Corners a rotated, enlarged box needs beyond 1.5x come out black
(Simple Baselines pads with black at image borders too). Loading real MPII precrops 22,246 + 2,958
people with Pillow: minutes, once per study.

Resolution: 256 x 256 input and 64 x 64 heatmaps (the paper); the params key `input_downscale` (1, 2 or 4)
divides both for CPU profiles. Registered names: `mpii` and `mpii-generated` (generated skeleton images in
the same layout, written under `<data_root>/mpii-generated` on first use).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import scipy.io
import torch
from PIL import Image
from torch.nn import functional as F

from ..errors import DataError
from ..tasks import MPII_FLIP_PAIRS, MPII_JOINTS
from .base import FolderDataset, Normalisation, StudyData, fixed_parts, register_dataset
from .generated_pose import make_pose_folder

NUM_JOINTS = 16
SIGMA = 2.0
SCALE_FACTOR, ROTATION_FACTOR, ROTATION_PROB = 0.25, 30.0, 0.6
CONTEXT = 1.5  # the stored crop covers CONTEXT x the person box
MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HOW_TO_GET = ("put the Simple Baselines MPII layout there: annot/{train,valid}.json + annot/gt_valid.mat"
              " (`make data-offline` unpacks ../shared/data/mpii-annot.tar.xz) and images/ (mpii_human_pose_v1.tar.gz"
              " from human-pose.mpi-inf.mpg.de)")


def _entry_problem(entry) -> str | None:
    """What is wrong with one person entry of train/valid.json, or None."""
    shapes = {"center": (2,), "scale": (), "joints": (NUM_JOINTS, 2), "joints_vis": (NUM_JOINTS,)}
    try:
        if not isinstance(entry["image"], str):
            return "image is not a file name"
        for key, shape in shapes.items():
            if np.asarray(entry[key], dtype=np.float64).shape != shape:
                return f"{key} is not {' x '.join(map(str, shape)) or 'a number'}"
    except KeyError as error:
        return f"no key {error}"
    except (TypeError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def read_annotations(annot_file: Path) -> dict:
    """Simple Baselines' MPIIDataset._get_db for one json: 0-based arrays
    center (N, 2), box (N,) = 1.25 x scale x 200, joints (N, 16, 2), visible (N, 16) and image names."""
    if not annot_file.is_file():
        raise DataError(f"MPII annotations not found: {annot_file}; {HOW_TO_GET}")
    try:
        entries = json.loads(annot_file.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{annot_file} is not valid JSON ({error}); {HOW_TO_GET}") from None
    if not isinstance(entries, list):
        raise DataError(f"{annot_file} must hold a list of people (Simple Baselines' format); {HOW_TO_GET}")
    for i, entry in enumerate(entries):
        problem = _entry_problem(entry)
        if problem:
            raise DataError(f"{annot_file}: entry {i} is malformed ({problem}); each needs image (str), center (2),"
                            f" scale (number), joints ({NUM_JOINTS} x 2) and joints_vis ({NUM_JOINTS})")
    center = np.array([e["center"] for e in entries], dtype=np.float64).reshape(-1, 2)
    scale = np.array([e["scale"] for e in entries], dtype=np.float64)
    joints = np.array([e["joints"] for e in entries], dtype=np.float64).reshape(-1, NUM_JOINTS, 2)
    visible = np.array([e["joints_vis"] for e in entries], dtype=np.float64).reshape(-1, NUM_JOINTS)
    known = center[:, 0] != -1
    center[known, 1] += 15 * scale[known]  # "adjust center/scale slightly to avoid cropping limbs"
    scale = np.where(known, scale * 1.25, scale)
    return {"image": [e["image"] for e in entries], "center": center - 1, "box": scale * 200, "joints": joints - 1,
            "visible": (visible > 0).astype(np.float64)}


def read_gt_mat(mat_file: Path) -> dict:
    """The official evaluation's ground truth: joints (N, 16, 2) 0-based, visible (N, 16), headboxes (N, 2, 2)."""
    if not mat_file.is_file():
        raise DataError(f"{mat_file} is missing (the official PCKh ground truth); {HOW_TO_GET}")
    try:
        gt = scipy.io.loadmat(str(mat_file))
        names = [str(np.asarray(n).reshape(-1)[0]) for n in gt["dataset_joints"].reshape(-1)]
        shapes = {key: gt[key].shape for key in ("pos_gt_src", "jnt_missing", "headboxes_src")}
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:  # scipy's MatReadError is a ValueError
        raise DataError(f"cannot read {mat_file} ({type(error).__name__}: {error}); expected the official"
                        f" gt_valid.mat with dataset_joints, pos_gt_src, jnt_missing, headboxes_src; {HOW_TO_GET}") from None
    if names != MPII_JOINTS:
        raise DataError(f"{mat_file}: dataset_joints {names} differ from the MPII order {MPII_JOINTS}")
    n = shapes["pos_gt_src"][-1] if len(shapes["pos_gt_src"]) == 3 else -1
    expected = {"pos_gt_src": (NUM_JOINTS, 2, n), "jnt_missing": (NUM_JOINTS, n), "headboxes_src": (2, 2, n)}
    wrong = [f"{key} {shapes[key]} (expected {want})" for key, want in expected.items() if shapes[key] != want]
    if wrong:
        raise DataError(f"{mat_file}: {', '.join(wrong)}; {HOW_TO_GET}")
    return {"joints": gt["pos_gt_src"].transpose(2, 0, 1).astype(np.float64) - 1,
            "visible": 1.0 - gt["jnt_missing"].T.astype(np.float64),
            "headboxes": gt["headboxes_src"].transpose(2, 0, 1).astype(np.float64)}


def crop_people(image_dir: Path, names: list, center: np.ndarray, box: np.ndarray, size: int) -> torch.Tensor:
    """(N, 3, size, size) uint8: for each person the square of side CONTEXT x box around center, resampled
    so that crop pixel q is original pixel center + (q - size / 2) x CONTEXT x box / size."""
    out = torch.empty(len(names), 3, size, size, dtype=torch.uint8)
    order = sorted(range(len(names)), key=lambda i: names[i])  # open each image once
    current, image = None, None
    for i in order:
        if names[i] != current:
            path = image_dir / names[i]
            if not path.is_file():
                raise DataError(f"MPII image {path} is missing; {HOW_TO_GET}")
            current = names[i]
            with Image.open(path) as raw:
                image = raw.convert("RGB")
        k = CONTEXT * box[i] / size
        offset_x = center[i, 0] - k * size / 2 + 0.5 - k / 2  # Pillow samples at pixel centres
        offset_y = center[i, 1] - k * size / 2 + 0.5 - k / 2
        crop = image.transform((size, size), Image.Transform.AFFINE, (k, 0, offset_x, 0, k, offset_y),
                               resample=Image.Resampling.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1)
    return out


def gaussian_heatmaps(joints: torch.Tensor, visible: torch.Tensor, heatmap_size: int, stride: float,
                      sigma: float = SIGMA):
    """Simple Baselines' generate_target, batched: (B, J, 2) joints in input pixels ->
    (heatmaps (B, J, h, h), weights (B, J))."""
    mu = torch.floor(joints / stride + 0.5)  # int(x / stride + 0.5) for the non-negative coordinates that matter
    radius = 3 * sigma
    outside = ((mu - radius >= heatmap_size) | (mu + radius + 1 < 0)).any(-1)
    weights = visible.float() * (~outside).float()
    grid = torch.arange(heatmap_size, device=joints.device, dtype=joints.dtype)
    dx = grid.view(1, 1, 1, -1) - mu[..., 0, None, None]
    dy = grid.view(1, 1, -1, 1) - mu[..., 1, None, None]
    heat = torch.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))
    heat = heat * ((dx.abs() <= radius) & (dy.abs() <= radius))
    return heat * weights[..., None, None], weights


class PoseData(StudyData):
    """Per-person context crops (uint8) on the device; batches are affine-warped to input_size there.
    Train targets: {heatmaps, weights}; test targets add center, box, joints, visible, headboxes."""

    task = "pose"

    def __init__(self, name, train: dict, test: dict, device, input_size: int = 256, augment: bool = True):
        self.name = name
        self.device = torch.device(device)
        put = lambda d: {k: (torch.as_tensor(v).to(self.device) if k != "image" else v) for k, v in d.items()}  # noqa: E731
        self.train, self.test = put(train), put(test)
        self.n_pool, self.n_test = len(train["crops"]), len(test["crops"])
        self.input_size, self.heatmap_size = input_size, input_size // 4
        self.augment = augment
        self.normalise = Normalisation(*MEAN_STD, self.device)
        self.swap = list(range(NUM_JOINTS))
        for a, b in MPII_FLIP_PAIRS:
            self.swap[a], self.swap[b] = b, a

    def warp(self, split: dict, index, augment: bool):
        """Batched crop + augmentation: (normalised images (B, 3, W, W), joints in input pixels, visible)."""
        crops, rel = split["crops"][index], (split["joints"][index] - split["center"][index, None, :]).float()
        visible = split["visible"][index].float()
        b, w, r = len(index), self.input_size, crops.shape[-1]
        dev = crops.device
        scale = torch.ones(b, device=dev)
        angle = torch.zeros(b, device=dev)
        flip = torch.zeros(b, dtype=torch.bool, device=dev)
        if augment and self.augment:
            scale = (torch.randn(b, device=dev) * SCALE_FACTOR + 1).clamp(1 - SCALE_FACTOR, 1 + SCALE_FACTOR)
            rotate = torch.rand(b, device=dev) <= ROTATION_PROB
            angle = torch.where(rotate, (torch.randn(b, device=dev) * ROTATION_FACTOR)
                                .clamp(-2 * ROTATION_FACTOR, 2 * ROTATION_FACTOR), angle)
            flip = torch.rand(b, device=dev) < 0.5
        theta = angle * math.pi / 180
        cos, sin = torch.cos(theta), torch.sin(theta)
        A = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2) rotation
        A = torch.where(flip[:, None, None], A * torch.tensor([[-1.0], [1.0]], device=dev), A)  # then mirror x
        # output offset d = box * scale * (o - 1/W) / 2 (o: normalised output coords) maps to the original
        # offset A d, i.e. to normalised crop coords 2 A d / (CONTEXT box) + 1/R
        linear = A * (scale / CONTEXT)[:, None, None]
        shift = 1.0 / r - linear @ torch.full((b, 2, 1), 1.0 / w, device=dev)
        grid = F.affine_grid(torch.cat([linear, shift], 2), (b, 3, w, w), align_corners=False)
        images = F.grid_sample(crops.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        box = split["box"][index].float()
        joints = (A.transpose(1, 2) @ rel.transpose(1, 2)).transpose(1, 2)  # A^-1 = A^T
        joints = joints * (w / (box * scale))[:, None, None] + w / 2
        swap = torch.tensor(self.swap, device=dev)
        joints = torch.where(flip[:, None, None], joints[:, swap], joints)
        visible = torch.where(flip[:, None], visible[:, swap], visible)
        return self.normalise(images), joints, visible

    def targets(self, joints, visible) -> dict:
        heatmaps, weights = gaussian_heatmaps(joints, visible, self.heatmap_size, self.input_size / self.heatmap_size)
        return {"heatmaps": heatmaps, "weights": weights}

    def train_batch(self, index, augment=True):
        images, joints, visible = self.warp(self.train, index, augment)
        return images, self.targets(joints, visible)

    def test_batch(self, index):
        images, joints, visible = self.warp(self.test, index, False)
        target = self.targets(joints, visible)
        target.update(center=self.test["center"][index], box=self.test["box"][index],
                      joints=self.test["gt_joints"][index], visible=self.test["gt_visible"][index],
                      headboxes=self.test["headboxes"][index])
        return images, target


@register_dataset("mpii")
class MPII(FolderDataset):
    name, folder, input_size, generated = "mpii", "mpii", 256, False
    train_size, test_size = 22246, 2958
    task = PoseData.task
    downscales = (1, 2, 4)  # keeps the input a multiple of 4 x the heatmap

    @classmethod
    def is_present(cls, root) -> bool:
        return (root / "annot" / "gt_valid.mat").is_file()

    @classmethod
    def make_generated(cls, root) -> None:
        make_pose_folder(root)

    @classmethod
    def load(cls, params, device) -> PoseData:
        root = cls.root(params)
        train = read_annotations(root / "annot" / "train.json")
        test = read_annotations(root / "annot" / "valid.json")
        gt = read_gt_mat(root / "annot" / "gt_valid.mat")
        if len(gt["joints"]) != len(test["image"]):
            raise DataError(f"{root / 'annot' / 'gt_valid.mat'} has {len(gt['joints'])} people, valid.json"
                            f" {len(test['image'])}: they must be the same list")
        test.update(gt_joints=gt["joints"], gt_visible=gt["visible"], headboxes=gt["headboxes"])
        train, test = fixed_parts(params, train, test)
        if not (root / "images").is_dir():
            raise DataError(f"MPII images not found: {root / 'images'} is missing; {HOW_TO_GET}")
        input_size = cls.input_size // params.input_downscale
        size = int(round(CONTEXT * input_size))
        for split in (train, test):
            split["crops"] = crop_people(root / "images", split["image"], split["center"], split["box"], size)
            del split["image"]
        return PoseData(cls.name, train, test, device, input_size, augment=params.augment)


@register_dataset("mpii-generated")
class GeneratedMPII(MPII):
    name, folder, generated = "mpii-generated", "mpii-generated", True
    train_size, test_size = 600, 120
