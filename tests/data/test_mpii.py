"""MPII pose: PCKh as the official evaluation, the Simple Baselines loader (real annotation files and a
generated folder), heatmaps landing on the joints, a tiny study (the model: models/test_pose.py; PCKh and the task:
test_tasks.py)."""
import json
import lzma
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image, ImageDraw

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.data import DataError, load_dataset
from l2ral_lib.data.generated_pose import make_pose_folder
from l2ral_lib.data.mpii import read_annotations, read_gt_mat
from l2ral_lib.tasks import MPII_JOINTS, get_task, heatmap_argmax

ARCHIVE = ROOT.parent / "shared" / "data" / "mpii-annot.tar.xz"


@pytest.fixture(scope="module")
def real_annot(tmp_path_factory) -> Path:
    """data/mpii/annot, else ../shared/data/mpii-annot.tar.xz unpacked to a temporary folder (2.4 MB)."""
    if (ROOT / "data" / "mpii" / "annot" / "gt_valid.mat").is_file():
        return ROOT / "data" / "mpii" / "annot"
    if not ARCHIVE.is_file():
        pytest.skip(f"real MPII annotations absent: neither data/mpii/annot nor {ARCHIVE}")
    target = tmp_path_factory.mktemp("mpii")
    with lzma.open(ARCHIVE) as stream, tarfile.open(fileobj=stream) as tar:
        tar.extractall(target, filter="data")
    return target / "annot"


@pytest.fixture(scope="module")
def generated_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pose")
    make_pose_folder(root / "mpii-generated", n_train=40, n_valid=12)
    return root


def _entry(**change):
    entry = {"image": "a.jpg", "center": [100.0, 120.0], "scale": 1.5, "joints": [[10.0, 20.0]] * 16,
             "joints_vis": [1] * 16}
    return {**entry, **change}


MALFORMED_JSON = [
    ("{not json", "is not valid JSON"),
    ('{"image": "a.jpg"}', "must hold a list of people"),
    (json.dumps([_entry(), {k: v for k, v in _entry().items() if k != "joints"}]), "entry 1 is malformed (no key 'joints')"),
    (json.dumps([_entry(joints=[[1.0, 2.0]] * 15)]), "entry 0 is malformed (joints is not 16 x 2)"),
    (json.dumps([_entry(scale="big")]), "entry 0 is malformed (ValueError: could not convert string"),
]


@pytest.mark.parametrize("text,message", MALFORMED_JSON, ids=range(len(MALFORMED_JSON)))
def test_malformed_annotation_json_is_one_line_naming_file_and_entry(generated_root, tmp_path, capsys, text, message):
    from l2ral_lib.__main__ import main
    import shutil
    root = tmp_path / "mpii-generated"
    shutil.copytree(generated_root / "mpii-generated" / "annot", root / "annot")
    (root / "images").mkdir()
    (root / "annot" / "train.json").write_text(text)
    code = main(["run", str(ROOT / "params" / "mpii-ci.yaml"), "--device", "cpu", "--out", str(tmp_path / "out"),
                 "--set", f"data_root={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(root / "annot" / "train.json") in err and message in err, err


def _gt_mat(path, **change):
    gt = {"dataset_joints": np.array([[np.array([name]) for name in MPII_JOINTS]], dtype=object),
          "pos_gt_src": np.zeros((16, 2, 3)), "jnt_missing": np.zeros((16, 3)), "headboxes_src": np.zeros((2, 2, 3))}
    scipy.io.savemat(str(path), {k: v for k, v in {**gt, **change}.items() if v is not None})


@pytest.mark.parametrize("change,message", [
    ({"headboxes_src": None}, "KeyError: 'headboxes_src'"),
    ({"jnt_missing": np.zeros((16, 4))}, "jnt_missing (16, 4) (expected (16, 3))"),
    ({"dataset_joints": np.array([[np.array([f"j{i}"]) for i in range(16)]], dtype=object)}, "differ from the MPII order"),
    ("truncated", "cannot read"),
], ids=["missing-key", "shape", "joint-order", "truncated"])
def test_malformed_gt_valid_mat_names_the_file(tmp_path, change, message):
    path = tmp_path / "gt_valid.mat"
    if change == "truncated":
        _gt_mat(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        _gt_mat(path, **change)
    with pytest.raises(DataError) as error:
        read_gt_mat(path)
    assert str(path) in str(error.value) and message in str(error.value), error.value
    assert "\n" not in str(error.value)


def test_real_annotations_parse(real_annot):
    train = read_annotations(real_annot / "train.json")
    valid = read_annotations(real_annot / "valid.json")
    gt = read_gt_mat(real_annot / "gt_valid.mat")
    assert len(train["image"]) == 22246 and len(valid["image"]) == 2958 and len(gt["joints"]) == 2958
    assert train["joints"].shape == (22246, 16, 2) and gt["headboxes"].shape == (2958, 2, 2)
    # valid.json and gt_valid.mat are the same list of people (13 of 44,240 joints differ in the source)
    assert ((valid["visible"] > 0) == (gt["visible"] > 0)).all()
    both = (valid["visible"] > 0) & (gt["visible"] > 0)
    assert (np.abs(valid["joints"] - gt["joints"]).max(-1)[both] > 1.0).mean() < 1e-3
    assert (train["box"] > 0).all() and np.isfinite(train["center"]).all()


def test_real_annotations_crops_and_heatmaps_land_on_joints(real_annot, tmp_path):
    """Images are not available: draw each joint of a few real valid people as a bright dot in a blank
    image of the original size, load through the MPII loader, and check the target heatmaps' peaks."""
    entries = json.loads((real_annot / "valid.json").read_text())[:6]
    gt_mat = real_annot / "gt_valid.mat"
    root = tmp_path / "mpii"
    (root / "annot").mkdir(parents=True)
    (root / "images").mkdir()
    import scipy.io
    gt = scipy.io.loadmat(str(gt_mat))
    scipy.io.savemat(str(root / "annot" / "gt_valid.mat"), {
        "dataset_joints": gt["dataset_joints"], "jnt_missing": gt["jnt_missing"][:, :6],
        "pos_gt_src": gt["pos_gt_src"][:, :, :6], "headboxes_src": gt["headboxes_src"][:, :, :6]})
    for i, entry in enumerate(entries):
        entry["image"] = f"{i}.png"
        joints = np.array(entry["joints"]) - 1
        size = (int(joints[:, 0].max()) + 60, int(joints[:, 1].max()) + 60)
        image = Image.new("RGB", size)
        draw = ImageDraw.Draw(image)
        r = entry["scale"] * 200 * 1.25 / 64  # about one heatmap pixel
        for (x, y), v in zip(joints, entry["joints_vis"]):
            if v:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255))
        image.save(root / "images" / entry["image"])
    (root / "annot" / "valid.json").write_text(json.dumps(entries))
    (root / "annot" / "train.json").write_text(json.dumps(entries))
    params = load_params(ROOT / "params" / "mpii-ci.yaml", {"data_root": str(tmp_path), "dataset": "mpii",
                                                            "pool_size": None, "test_size": None, "input_downscale": 1})
    data = load_dataset(params, "cpu")
    images, target = data.test_batch(torch.arange(6))
    assert images.shape == (6, 3, 256, 256) and target["heatmaps"].shape == (6, 16, 64, 64)
    brightness = images.mean(1)  # normalised; dots are the bright pixels
    peaks = heatmap_argmax(target["heatmaps"])  # heatmap pixels
    for i in range(6):
        for j in range(16):
            if target["weights"][i, j] > 0:
                x, y = (peaks[i, j] * 4).round().long().clamp(0, 255).tolist()
                assert brightness[i, max(0, y - 3):y + 4, max(0, x - 3):x + 4].max() > 1.0, (i, j)
    torch.manual_seed(0)  # augmented (scale, rotation, flip): the heatmaps follow the dots
    images, target = data.train_batch(torch.arange(6).repeat(3), augment=True)
    brightness, peaks = images.mean(1), heatmap_argmax(target["heatmaps"])
    hits = [brightness[i, max(0, y - 4):y + 5, max(0, x - 4):x + 5].max() > 1.0
            for i in range(18) for j in range(16) if target["weights"][i, j] > 0
            for x, y in [(peaks[i, j] * 4).round().long().clamp(0, 255).tolist()]]
    assert sum(hits) / len(hits) > 0.97
    images, target = data.test_batch(torch.arange(6))
    # predictions from the target heatmaps map back onto the ground truth: PCKh close to 100
    task = get_task("pose")
    metrics = task.reduce_metrics(task.metric_sums(target["heatmaps"], target), 6)
    assert metrics["pckh"] > 95


@pytest.mark.parametrize("downscale,size", [(1, 256), (2, 128), (4, 64)])
def test_input_downscale_sets_input_and_heatmap_size(generated_root, downscale, size):
    params = load_params(ROOT / "params" / "mpii-ci.yaml", {"data_root": str(generated_root), "input_downscale": downscale,
                                                            "pool_size": 16, "test_size": 4})
    images, target = load_dataset(params, "cpu").test_batch(torch.arange(4))
    assert images.shape == (4, 3, size, size) and target["heatmaps"].shape == (4, 16, size // 4, size // 4)


def test_augmented_heatmaps_follow_the_image(generated_root):
    params = load_params(ROOT / "params" / "mpii-ci.yaml", {"data_root": str(generated_root)})
    data = load_dataset(params, "cpu")
    assert data.n_pool == 40 and data.n_test == 12 and data.train["crops"].dtype == torch.uint8
    torch.manual_seed(0)
    images, target = data.train_batch(torch.arange(16) % 40, augment=True)
    assert images.shape == (16, 3, 128, 128) and target["heatmaps"].shape == (16, 16, 32, 32)
    assert target["weights"].sum() > 0.8 * 16 * 16 * 0.95  # most joints visible and inside the map


def test_flip_swaps_left_and_right(generated_root):
    params = load_params(ROOT / "params" / "mpii-ci.yaml", {"data_root": str(generated_root)})
    data = load_dataset(params, "cpu")
    import l2ral_lib.data.mpii as mpii
    old = mpii.SCALE_FACTOR, mpii.ROTATION_PROB
    try:
        mpii.SCALE_FACTOR, mpii.ROTATION_PROB = 0.0, -1.0  # flip only
        torch.manual_seed(3)
        images, joints, visible = data.warp(data.train, torch.arange(20), augment=True)
    finally:
        mpii.SCALE_FACTOR, mpii.ROTATION_PROB = old
    plain, plain_joints, _ = data.warp(data.train, torch.arange(20), augment=False)
    flipped = [i for i in range(20) if not torch.allclose(images[i], plain[i])]
    assert flipped
    for i in flipped:
        # Simple Baselines' crop centre is pixel W/2, so the flipped crop is the mirror shifted by one pixel
        torch.testing.assert_close(images[i][..., 1:], plain[i].flip(-1)[..., :-1], atol=0.2, rtol=0)
        # right ankle after the flip = left ankle mirrored (x -> W - x in the pixel-corner convention)
        expected = torch.stack([128 - plain_joints[i, 5, 0], plain_joints[i, 5, 1]])
        torch.testing.assert_close(joints[i, 0], expected, atol=1.01, rtol=0)


def test_tiny_study_on_ci_profile(generated_root, tmp_path):
    from l2ral_lib import sorter
    from l2ral_lib.loop import run_study
    methods = ["entropy", "ll4al"]  # every method runs in the shanghaitech ci study; here: kept short
    if 4 in sorter.available_sorter_lengths("gru"):
        methods.append("l2r")
    params = load_params(ROOT / "params" / "mpii-ci.yaml", {"data_root": str(generated_root), "strategies": methods,
                                                            "pool_size": None, "max_labeled": 12, "subset_size": 8})
    table = run_study(params, "cpu", tmp_path / "out", progress=False)
    pck = table[table.metric == "pckh"]
    assert len(pck) == len(methods) * params.n_cycles and pck.value.between(0, 100).all()
    assert {"pckh_head", "pckh_ankle"} <= set(table.metric)
