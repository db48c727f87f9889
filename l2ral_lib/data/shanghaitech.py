"""ShanghaiTech Part B crowd counting (paper Sec. IV-D, Fig. 8), as the C^3 framework prepares it.

On-disk layout (the official one): `<root>/shanghaitech/part_B/{train,test}_data/images/IMG_n.jpg` and
`.../ground-truth/GT_IMG_n.mat`, head points at `loadmat(...)["image_info"][0, 0][0, 0][0]` (N x 2, x then y,
1-based pixels).

Density maps (C^3 / MCNN preprocessing): every head is a 15x15 Gaussian (sigma 4) at its pixel
(`floor` of the annotation, clamped into the image), multiplied by `LOG_PARA` = 100 (C^3's `LOG_PARA`,
which keeps the per-pixel targets near 1). Near the border the truncated kernel is renormalised, so a
map sums exactly to (heads x LOG_PARA). MCNN's MATLAB code re-creates a smaller Gaussian for a
truncated window instead; both keep the count exact, the shapes differ by a few pixels at the border.

Resolution: native 1024x768 is the paper's setting (a GPU job). The params key `input_downscale` (1, 2, 4
or 8) reduces images and maps for CPU profiles: the map is rendered at native resolution and
sum-pooled, i.e. exactly the native map seen at a coarser grid, so counts stay exact. Every size is
rounded down to a multiple of 8 (the model's output stride). `shanghaitech-generated` is a tiny generated
folder in the official layout (written on first use under `<data_root>/shanghaitech-generated`, see
`make_crowd_folder`) for ci and tests.

Training augmentation (C^3 SHHB, gjy3035/C-3-Framework datasets/SHHB/loading_data.py): a random
horizontal flip of the whole image; its RandomCrop(TRAIN_SIZE 576x768) is commented out there. The
params key `crop_fraction` (< 1) adds a random crop of that fraction of each side (0.75 = C^3's
576x768 TRAIN_SIZE; rounded to multiples of 8), batched on the device with the flip. Normalisation
with C^3's SHHB mean/std. Test images are used whole.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch
from PIL import Image
from torch.nn import functional as F

from ..errors import DataError
from ..tasks import CROWD_LOG_PARA
from .base import FolderDataset, Normalisation, StudyData, fixed_parts, register_dataset

LOG_PARA = CROWD_LOG_PARA
KERNEL_SIZE, SIGMA = 15, 4.0
# C^3 framework, datasets/SHHB/setting.py
MEAN_STD = ((0.452016860247, 0.447249650955, 0.431981861591), (0.23242045939, 0.224925786257, 0.221840232611))
HOW_TO_GET = ("unpack the official Part B archives there (`make data-offline` unpacks"
              " ../shared/data/shanghaitech-part-b-{train,test}.tar into data/shanghaitech)")


def read_head_points(mat_path: str | Path) -> np.ndarray:
    """(N, 2) float head points (x, y; 1-based pixels as annotated) of one GT_IMG_n.mat."""
    try:
        points = scipy.io.loadmat(str(mat_path))["image_info"][0, 0][0, 0][0]
    except (OSError, KeyError, IndexError, ValueError) as error:
        raise DataError(f"cannot read head points from {mat_path} ({error}); expected the official GT_IMG_n.mat"
                        " with image_info[0,0][0,0][0] = N x 2 points") from None
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def gaussian_1d(size: int = KERNEL_SIZE, sigma: float = SIGMA) -> torch.Tensor:
    """Normalised 1-d Gaussian; its outer product with itself is MATLAB's fspecial('gaussian', size, sigma)."""
    k = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-k ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _axis_profiles(positions: torch.Tensor, length: int, out_length: int, g: torch.Tensor) -> torch.Tensor:
    """(P, out_length) 1-d kernel of each head along one axis: the Gaussian centred on its (0-based
    integer) position, truncated to [0, length) and renormalised, then summed into out_length bins."""
    half = len(g) // 2
    offsets = torch.arange(-half, half + 1)
    index = positions[:, None] + offsets  # (P, K)
    inside = (index >= 0) & (index < length)
    weights = torch.where(inside, g.expand(len(positions), -1), torch.zeros(()))
    weights = weights / weights.sum(1, keepdim=True)
    profile = torch.zeros(len(positions), length, dtype=torch.float64)
    profile.scatter_add_(1, index.clamp(0, length - 1), weights)
    if out_length != length:
        if length % out_length == 0:  # sum-pooling: exactly the native map on a coarser grid
            profile = profile.view(len(positions), out_length, length // out_length).sum(2)
        else:
            profile = F.adaptive_avg_pool1d(profile.unsqueeze(1), out_length).squeeze(1)
            profile = profile / profile.sum(1, keepdim=True)
    return profile


def density_map(points: np.ndarray, height: int, width: int, size: int = KERNEL_SIZE, sigma: float = SIGMA,
                out_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Float64 density of 1-based (x, y) head points, summing exactly to len(points): a size x size
    Gaussian per head at pixel (floor(y), floor(x)) clamped into the height x width image, the part of
    the kernel inside the image renormalised to 1. `out_size` (h, w): the same map summed into a coarser
    grid (exact sum-pooling when it divides the image). The kernel is separable, so the map is one
    product (heads x rows)^T (heads x cols)."""
    out_h, out_w = out_size or (height, width)
    if len(points) == 0:
        return torch.zeros(out_h, out_w, dtype=torch.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cols = torch.from_numpy(np.clip(np.floor(np.abs(pts[:, 0])), 1, width).astype(np.int64) - 1)
    rows = torch.from_numpy(np.clip(np.floor(np.abs(pts[:, 1])), 1, height).astype(np.int64) - 1)
    g = gaussian_1d(size, sigma)
    return _axis_profiles(rows, height, out_h, g).T @ _axis_profiles(cols, width, out_w, g)


def reduce_density(density: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A density map on a coarser (height, width) grid with the same sum (sum-pooling for integer factors)."""
    h0, w0 = density.shape[-2:]
    if (h0, w0) == (height, width):
        return density
    total = density.sum()
    reduced = F.adaptive_avg_pool2d(density.view(1, 1, h0, w0), (height, width)).view(height, width)
    reduced = reduced * (h0 * w0) / (height * width)
    return reduced * (total / reduced.sum()) if reduced.sum() > 0 else reduced


def target_size(height: int, width: int, downscale: int) -> tuple[int, int]:
    """Native size divided by `downscale`, rounded down to multiples of 8 (the model's output stride)."""
    h, w = height // downscale // 8 * 8, width // downscale // 8 * 8
    if h < 8 or w < 8:
        raise DataError(f"image of {width}x{height} is too small for a downscale of {downscale}")
    return h, w


def image_ids(split_dir: Path) -> list[int]:
    ids = sorted(int(p.stem.split("_")[-1]) for p in (split_dir / "images").glob("IMG_*.jpg"))
    if not ids:
        raise DataError(f"no images IMG_n.jpg in {split_dir / 'images'}; {HOW_TO_GET}")
    return ids


def load_split(split_dir: Path, downscale: int, size: tuple[int, int] | None = None):
    """-> (images uint8 (N, 3, h, w), densities float32 (N, 1, h, w) x LOG_PARA, counts int64 (N,), size).
    Every image is resized to `size` (default: the first image's native size / downscale)."""
    images, densities, counts = [], [], []
    for n in image_ids(split_dir):
        image_path = split_dir / "images" / f"IMG_{n}.jpg"
        mat_path = split_dir / "ground-truth" / f"GT_IMG_{n}.mat"
        if not mat_path.is_file():
            raise DataError(f"{mat_path} is missing (every images/IMG_n.jpg needs ground-truth/GT_IMG_n.mat); {HOW_TO_GET}")
        points = read_head_points(mat_path)
        with Image.open(image_path) as image:
            width, height = image.size
            if size is None:
                size = target_size(height, width, downscale)
            image.draft("RGB", (size[1], size[0]))  # JPEG decodes at 1/2, 1/4, 1/8 when that still covers `size`
            image = image.convert("RGB")
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
        density = density_map(points, height, width, out_size=size)
        densities.append((density * LOG_PARA).float().unsqueeze(0))
        counts.append(len(points))
    return torch.stack(images), torch.stack(densities), torch.tensor(counts, dtype=torch.int64), size


class CrowdData(StudyData):
    """Images uint8 (N, 3, h, w) and density maps float32 (N, 1, h, w) (x LOG_PARA) on the device;
    targets are density maps (the task reads counts from their sums)."""

    task = "crowd_counting"

    def __init__(self, name, train_images, train_density, train_counts, test_images, test_density, test_counts,
                 device, augment: bool = True, crop_fraction: float = 1.0):
        self.name = name
        self.device = torch.device(device)
        self.train_images, self.test_images = train_images.to(self.device), test_images.to(self.device)
        self.train_density, self.test_density = train_density.to(self.device), test_density.to(self.device)
        self.train_counts, self.test_counts = train_counts, test_counts
        self.n_pool, self.n_test = len(train_images), len(test_images)
        self.augment = augment
        self.normalise = Normalisation(*MEAN_STD, self.device)
        h, w = train_images.shape[-2:]
        self.crop = (max(8, int(h * crop_fraction) // 8 * 8), max(8, int(w * crop_fraction) // 8 * 8))

    def count(self, i: int) -> int:
        """Annotated heads of pool item i."""
        return int(self.train_counts[i])

    def crop_flip(self, images, density):
        """The same random crop and horizontal flip for each image and its density map (batched)."""
        b, _, h, w = images.shape
        ch, cw = self.crop
        dev = images.device
        dy = torch.randint(0, h - ch + 1, (b, 1), device=dev)
        dx = torch.randint(0, w - cw + 1, (b, 1), device=dev)
        rows = (dy + torch.arange(ch, device=dev))[:, None, :, None]
        cols = (dx + torch.arange(cw, device=dev))[:, None, None, :]
        flip = torch.rand(b, device=dev) < 0.5
        cols = torch.where(flip[:, None, None, None], cols.flip(-1), cols)
        batch = torch.arange(b, device=dev)[:, None, None, None]
        images = images[batch, torch.arange(3, device=dev)[None, :, None, None], rows, cols]
        density = density[batch, torch.zeros(1, 1, 1, 1, dtype=torch.long, device=dev), rows, cols]
        return images, density

    def train_batch(self, index, augment=True):
        images, density = self.train_images[index], self.train_density[index]
        if augment and self.augment:
            images, density = self.crop_flip(images, density)
        return self.normalise(images), density

    def test_batch(self, index):
        return self.normalise(self.test_images[index]), self.test_density[index]


class ShanghaiTechB(FolderDataset):
    """Loader of the official layout (see the module docstring)."""

    name, folder, generated = "shanghaitech", "shanghaitech", False
    train_size, test_size = 400, 316
    task = CrowdData.task
    downscales = (1, 2, 4, 8)

    @classmethod
    def is_present(cls, root) -> bool:
        return (root / "part_B" / "test_data" / "images").is_dir()

    @classmethod
    def make_generated(cls, root) -> None:
        make_crowd_folder(root)

    @classmethod
    def load(cls, params, device) -> CrowdData:
        root = cls.root(params)
        part_b = root / "part_B"
        for split in ("train_data", "test_data"):
            if not (part_b / split / "images").is_dir():
                raise DataError(f"ShanghaiTech Part B not found: {part_b / split / 'images'} is missing; {HOW_TO_GET}")
        *train, size = load_split(part_b / "train_data", params.input_downscale)
        *test, _ = load_split(part_b / "test_data", params.input_downscale, size=size)
        train, test = fixed_parts(params, tuple(train), tuple(test))
        return CrowdData(cls.name, *train, *test, device, augment=params.augment, crop_fraction=params.crop_fraction)


register_dataset("shanghaitech")(ShanghaiTechB)


@register_dataset("shanghaitech-generated")
class GeneratedCrowd(ShanghaiTechB):
    name, folder, generated = "shanghaitech-generated", "shanghaitech-generated", True
    train_size, test_size = 48, 16


def write_head_points(mat_path: str | Path, points: np.ndarray) -> None:
    """Write head points as the official GT_IMG_n.mat (image_info{1}.location / .number)."""
    record = np.zeros((1, 1), dtype=[("location", "O"), ("number", "O")])
    record[0, 0]["location"] = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    record[0, 0]["number"] = np.array([[len(points)]], dtype=np.float64)
    info = np.empty((1, 1), dtype=object)
    info[0, 0] = record
    scipy.io.savemat(str(mat_path), {"image_info": info})


def make_crowd_folder(root: str | Path, n_train: int = 48, n_test: int = 16, size: tuple[int, int] = (96, 128),
                      max_heads: int = 60, seed: int = 0) -> Path:
    """Write a tiny crowd dataset in the official Part B layout under root/part_B and return root.

    Each image is a noisy background with a dark blob per head (uniformly placed, 0..max_heads
    heads), so counting is learnable; a few heads sit on the border to exercise the clamping."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    for split, count in (("train_data", n_train), ("test_data", n_test)):
        (root / "part_B" / split / "images").mkdir(parents=True, exist_ok=True)
        (root / "part_B" / split / "ground-truth").mkdir(parents=True, exist_ok=True)
        for n in range(1, count + 1):
            heads = int(rng.integers(0, max_heads + 1))
            points = np.stack([rng.uniform(0.5, w + 0.5, heads), rng.uniform(0.5, h + 0.5, heads)], 1)
            image = 150 + rng.normal(0, 20, (h, w, 1)) + rng.uniform(-40, 40, (1, 1, 3))
            for x, y in points:
                image -= 90 * np.exp(-((xs - x + 1) ** 2 + (ys - y + 1) ** 2) / 4.0)[..., None]
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                root / "part_B" / split / "images" / f"IMG_{n}.jpg", quality=95)
            write_head_points(root / "part_B" / split / "ground-truth" / f"GT_IMG_{n}.mat", points)
    return root
