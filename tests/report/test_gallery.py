"""What each method picked, as pictures (l2ral_lib.report.gallery): the tiles are the picked items in stored
order, captioned as the task knows them; the pose overlay lands where the loader put the joint."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from l2ral_lib.data.mpii import crop_people  # noqa: E402
from l2ral_lib.data.shanghaitech import CrowdData  # noqa: E402
from l2ral_lib.report import gallery as rg  # noqa: E402
from l2ral_lib.report.study import PICK_COLUMNS, StudyResults  # noqa: E402


def test_gallery_tiles_are_the_picked_images_in_stored_order_with_their_classes(study_data):
    out, params, data = study_data
    picks = StudyResults(out).picks
    ax = rg.picks_gallery(picks, data, seed=0, cycle=1, n=3)
    mosaic = ax.images[0].get_array()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Random", "Entropy", "L2R-AL"]
    gap, band = 2, rg.caption_band(32)
    assert mosaic.shape == (3 * (32 + band), 3 * (32 + gap), 3)
    for row, expected in ((1, [12, 13, 14]), (2, [1, 13, 25])):  # entropy's and l2r's first three picks
        for col, index in enumerate(expected):
            tile = mosaic[row * (32 + band):row * (32 + band) + 32, col * (32 + gap):col * (32 + gap) + 32]
            assert np.array_equal(tile, data.train_images[index].permute(1, 2, 0).numpy())
    texts = [t.get_text() for t in ax.texts]
    assert "#13\nautomobile" in texts and "#25\nbird" in texts and len(texts) == 9
    assert "cycle 1, seed 0" in ax.get_title()
    detail = rg.batch_detail(picks, data, "l2r", 0, 1)
    assert detail["pool index"].tolist() == [12 * k + 1 for k in range(10)]  # stored order
    assert detail["item"].tolist()[:3] == ["airplane", "automobile", "bird"]
    assert "Entropy" in detail.loc[2, "also picked by"] and "Entropy" not in detail.loc[1, "also picked by"]
    # without the dataset: the same batch and overlap, no item column
    bare = rg.batch_detail(picks, None, "l2r", 0, 1)
    assert list(bare.columns) == ["pool index", "also picked by"] and bare.equals(detail.drop(columns="item"))
    plt.close("all")


def test_crowd_gallery_captions_are_the_annotated_counts():
    images = torch.arange(4 * 3 * 16 * 24, dtype=torch.int64).remainder(251).to(torch.uint8).view(4, 3, 16, 24)
    density = torch.zeros(4, 1, 16, 24)
    data = CrowdData("shanghaitech", images, density, torch.tensor([7, 0, 31, 2]), images[:1], density[:1],
                     torch.tensor([1]), "cpu", augment=False)
    picks = pd.DataFrame([("random", 0, 1, 2), ("random", 0, 1, 0), ("l2r", 0, 1, 3)], columns=PICK_COLUMNS)
    ax = rg.picks_gallery(picks, data, seed=0, cycle=1)
    assert [t.get_text() for t in ax.texts] == ["#2\n31 heads", "#0\n7 heads", "#3\n2 heads"]
    assert np.array_equal(ax.images[0].get_array()[:16, :24], images[2].permute(1, 2, 0).numpy())
    plt.close("all")


def test_pose_overlay_lands_where_the_loader_put_the_joint_in_the_crop(tmp_path):
    """A white dot at a joint's pixel, cropped by the MPII loader's own `crop_people`, must appear where
    `pose_joints_in_crop` says the joint is."""
    canvas = np.zeros((120, 120, 3), dtype=np.uint8)
    canvas[44:47, 59:62] = 255  # the dot centred on pixel (x 60, y 45)
    Image.fromarray(canvas).save(tmp_path / "a.png")
    center, box, size = np.array([[50.0, 50.0]]), np.array([40.0]), 48
    crops = crop_people(tmp_path, ["a.png"], center, box, size)
    y, x = np.unravel_index(crops[0].float().sum(0).argmax().item(), (size, size))
    joints = np.zeros((1, 16, 2))
    joints[0, :] = [60.0, 45.0]
    visible = np.zeros((1, 16))
    visible[0, 0] = 1
    data = type("Pose", (), {"task": "pose", "name": "mpii", "n_pool": 1, "train": {
        "crops": crops, "joints": torch.tensor(joints), "center": torch.tensor(center), "box": torch.tensor(box),
        "visible": torch.tensor(visible)}})()
    where, shown = rg.pose_joints_in_crop(data, 0)
    # crop scale k = 1.5 x 40 / 48 = 1.25 px per crop px: (60 - 50) / 1.25 + 24 = 32, (45 - 50) / 1.25 + 24 = 20
    assert where[0] == pytest.approx([32.0, 20.0]) and shown.tolist() == [True] + [False] * 15
    assert abs(x - 32) <= 1 and abs(y - 20) <= 1  # the loader's crop agrees (bilinear, pixel centres)
    ax = rg.picks_gallery(pd.DataFrame([("l2r", 0, 1, 0)], columns=PICK_COLUMNS), data, 0, 1)
    marker = next(line for line in ax.get_lines() if line.get_marker() == "o")
    assert list(marker.get_xdata()) == pytest.approx([32.0]) and list(marker.get_ydata()) == pytest.approx([20.0])
    assert [t.get_text() for t in ax.texts] == ["#0\n1 joints"]
    plt.close("all")

