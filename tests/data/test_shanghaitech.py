"""ShanghaiTech Part B crowd counting: density maps, loader, a tiny study (the model:
models/test_crowd.py; the task: test_tasks.py)."""
import re

import numpy as np
import pytest
import torch

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.data import DataError, load_dataset
from l2ral_lib.data.shanghaitech import LOG_PARA, ShanghaiTechB, density_map, make_crowd_folder, read_head_points

REAL = ROOT / "data" / "shanghaitech" / "part_B" / "train_data"


@pytest.fixture(scope="module")
def crowd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("crowd")
    make_crowd_folder(root / "shanghaitech", n_train=12, n_test=4)
    return root


def stamped(points, height, width):
    """Reference: one renormalised truncated 15x15 Gaussian (sigma 4) stamped per head."""
    g = torch.exp(-(torch.arange(15, dtype=torch.float64) - 7) ** 2 / 32)
    kernel = torch.outer(g, g)
    out = torch.zeros(height, width, dtype=torch.float64)
    for x, y in points:
        c, r = int(min(width, max(1, np.floor(abs(x))))) - 1, int(min(height, max(1, np.floor(abs(y))))) - 1  # MCNN: abs
        r0, r1, c0, c1 = max(0, r - 7), min(height, r + 8), max(0, c - 7), min(width, c + 8)
        part = kernel[r0 - r + 7:r1 - r + 7, c0 - c + 7:c1 - c + 7]
        out[r0:r1, c0:c1] += part / part.sum()
    return out


def test_density_map_matches_stamping_and_keeps_the_count_at_borders():
    points = np.array([[1.0, 1.0], [40.2, 30.7], [64.9, 48.0], [70.0, -3.0], [20.0, 25.0]])  # corners, outside
    density = density_map(points, 48, 64)
    torch.testing.assert_close(density, stamped(points, 48, 64), rtol=0, atol=1e-12)
    assert density.sum().item() == pytest.approx(len(points), abs=1e-9)
    coarse = density_map(points, 48, 64, out_size=(12, 16))  # sum-pooled by 4
    torch.testing.assert_close(coarse, torch.nn.functional.avg_pool2d(density[None, None], 4)[0, 0] * 16)
    assert density_map(points, 48, 64, out_size=(10, 13)).sum().item() == pytest.approx(len(points))


def test_density_of_a_real_or_generated_image_sums_to_its_head_count(crowd_root):
    folder = REAL if REAL.is_dir() else crowd_root / "shanghaitech" / "part_B" / "train_data"
    points = read_head_points(folder / "ground-truth" / "GT_IMG_1.mat")
    if folder == REAL:
        assert len(points) == 233  # IMG_1 of Part B train
    assert density_map(points, 768, 1024).sum().item() == pytest.approx(len(points), abs=1e-9)
    assert density_map(points, 768, 1024, out_size=(192, 256)).sum().item() == pytest.approx(len(points), abs=1e-9)


def test_loader_on_official_layout(crowd_root):
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(crowd_root), "dataset": "shanghaitech"})
    data = load_dataset(params, "cpu")
    assert (data.n_pool, data.n_test, data.task) == (12, 4, "crowd_counting")
    assert data.train_images.dtype == torch.uint8 and data.train_images.shape == (12, 3, 96, 128)
    sums = data.train_density.flatten(1).sum(1).double() / LOG_PARA
    torch.testing.assert_close(sums, data.train_counts.double(), atol=1e-3, rtol=0)
    assert data.count(3) == int(data.train_counts[3])
    x, y = data.train_batch(torch.tensor([0, 1, 2]), augment=True)
    assert x.shape == (3, 3, 72, 96) and y.shape == (3, 1, 72, 96)  # 3/4 crops, multiples of 8
    x, y = data.test_batch(torch.arange(4))
    assert x.shape == (4, 3, 96, 128) and x.dtype == torch.float32


def test_input_downscale_shrinks_images_and_keeps_counts_exact(crowd_root):
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(crowd_root), "dataset": "shanghaitech", "input_downscale": 2})
    data = load_dataset(params, "cpu")
    assert data.train_images.shape == (12, 3, 48, 64) and data.train_density.shape == (12, 1, 48, 64)
    sums = data.train_density.flatten(1).sum(1).double() / LOG_PARA
    torch.testing.assert_close(sums, data.train_counts.double(), atol=1e-3, rtol=0)


def test_crop_flip_moves_image_and_density_together(crowd_root):
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(crowd_root), "dataset": "shanghaitech"})
    data = load_dataset(params, "cpu")
    torch.manual_seed(0)
    images, density = data.crop_flip(data.train_images[:6], data.train_density[:6])
    for i in range(6):  # find the crop in the original: the same offsets must select the density
        full_img, full_den = data.train_images[i], data.train_density[i]
        found = False
        for flip in (False, True):
            img = full_img.flip(-1) if flip else full_img
            den = full_den.flip(-1) if flip else full_den
            for dy in range(96 - 72 + 1):
                for dx in range(128 - 96 + 1):
                    if torch.equal(img[:, dy:dy + 72, dx:dx + 96], images[i]):
                        assert torch.equal(den[:, dy:dy + 72, dx:dx + 96], density[i])
                        found = True
                        break
                if found:
                    break
            if found:
                break
        assert found


def test_missing_data_names_the_path(tmp_path):
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml", {"data_root": str(tmp_path), "dataset": "shanghaitech"})
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'shanghaitech' / 'part_B' / 'train_data' / 'images'} is missing")):
        ShanghaiTechB.load(params, "cpu")


def test_tiny_study_on_ci_profile(tmp_path):
    from l2ral_lib import sorter
    from l2ral_lib.loop import run_study
    methods = ["random", "entropy", "coreset", "vaal", "ll4al"]  # all six when the length-4 sorter ships
    if 4 in sorter.available_sorter_lengths("gru"):
        methods.append("l2r")
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(tmp_path / "data"), "strategies": methods, "max_labeled": 12})
    table = run_study(params, "cpu", tmp_path / "out", progress=False)
    mae = table[table.metric == "mae"]
    assert len(mae) == len(methods) * params.n_cycles and np.isfinite(mae.value).all()
    assert set(table.metric) >= {"mae", "rmse", "time_train_s"}
    assert (tmp_path / "data" / "shanghaitech-generated" / "part_B" / "test_data" / "ground-truth").is_dir()


def test_paper_augmentation_is_whole_image_and_flip(crowd_root):
    """C^3 SHHB (datasets/SHHB/loading_data.py): RandomCrop commented out, RandomHorizontallyFlip kept."""
    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(crowd_root), "dataset": "shanghaitech", "crop_fraction": 1.0})
    data = load_dataset(params, "cpu")
    torch.manual_seed(0)
    images, density = data.crop_flip(data.train_images, data.train_density)
    flipped = [torch.equal(images[i], data.train_images[i].flip(-1)) for i in range(12)]
    for i in range(12):
        source = data.train_images[i].flip(-1) if flipped[i] else data.train_images[i]
        assert torch.equal(images[i], source)
        assert torch.equal(density[i], data.train_density[i].flip(-1) if flipped[i] else data.train_density[i])
    assert 0 < sum(flipped) < 12


def test_the_final_models_counts_are_kept_per_test_image_and_agree_with_its_mae(crowd_root, tmp_path):
    """slices/<method>-seed<k>/test_items.csv: every test image's annotated and predicted count of the last
    cycle's model; their mean absolute difference is the study's final MAE row, their counts the heads."""
    from l2ral_lib.loop import run_study
    from l2ral_lib.outputs import StudyFolder

    params = load_params(ROOT / "params" / "shanghaitech-ci.yaml",
                         {"data_root": str(crowd_root), "dataset": "shanghaitech", "strategies": ["random"],
                          "seeds": [0], "initial_labeled": 4, "query_size": 4, "max_labeled": 8})
    table = run_study(params, "cpu", tmp_path, progress=False)
    items = StudyFolder(tmp_path).slice("random", 0).test_items()
    data = load_dataset(params, "cpu")
    assert list(items.test_index) == list(range(data.n_test))
    heads = [round(float(data.test_batch(torch.tensor([i]))[1].sum()) / 100) for i in range(data.n_test)]
    assert list(items["count"]) == heads and len(set(heads)) > 1
    last = table[(table.metric == "mae") & (table.cycle == params.n_cycles - 1)].value.item()
    assert (items.predicted_count - items["count"]).abs().mean() == pytest.approx(last, rel=1e-12)
