"""The metric functions of tasks.py: classification accuracy against counted argmax hits; the pose and crowd
metrics against independent loop implementations of the official code (Simple Baselines'
lib/core/inference.py get_max_preds + get_final_preds, its MPII PCKh evaluation, C^3's counts), on cases
that reach every branch: peaks on every pixel of a non-square map, borders and corners included,
non-positive maxima, head boxes away from the origin, invisible joints."""
import numpy as np
import pytest
import scipy.io
import scipy.stats
import torch

from l2ral_lib.data.shanghaitech import LOG_PARA
from l2ral_lib.tasks import (CROWD_LOG_PARA, MPII_JOINTS, PCKH_GROUPS, Classification, CrowdCounting, PoseEstimation,
                             get_task, heatmap_argmax, pckh, pckh_counts, pckh_from_counts, softmax_entropy, spearman)

H, W = 7, 6  # non-square, so that a swapped axis shows


def official_final_preds(heatmaps: np.ndarray) -> np.ndarray:
    """(B, J, H, W) -> (B, J, 2): argmax (first of ties), (0, 0) unless the maximum is > 0, then a quarter
    pixel towards the higher neighbour where 1 < px < W - 1 and 1 < py < H - 1."""
    b, j, h, w = heatmaps.shape
    out = np.zeros((b, j, 2))
    for n in range(b):
        for k in range(j):
            hm = heatmaps[n, k]
            idx = int(np.argmax(hm.reshape(-1)))
            px, py = (idx % w, idx // w) if hm.reshape(-1)[idx] > 0 else (0, 0)
            coords = np.array([px, py], dtype=np.float64)
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([hm[py][px + 1] - hm[py][px - 1], hm[py + 1][px] - hm[py - 1][px]])
                coords += np.sign(diff) * 0.25
            out[n, k] = coords
    return out


def peaks_everywhere(seed: int = 0) -> torch.Tensor:
    """(H * W, 2, H, W): map i peaks at pixel i (value 2) over a random background in [0, 1); the second
    joint is the first mirrored in sign of its neighbours' differences (background reversed)."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.rand(H * W, 2, H, W, generator=g, dtype=torch.float64)
    maps[:, 1] = 1 - maps[:, 1]
    for i in range(H * W):
        maps[i, :, i // W, i % W] = 2.0
    return maps


def test_heatmap_argmax_equals_the_official_code_on_every_pixel():
    maps = peaks_everywhere()
    np.testing.assert_array_equal(heatmap_argmax(maps).numpy(), official_final_preds(maps.numpy()))


def test_heatmap_argmax_non_positive_maxima_give_the_origin():
    maps = -torch.rand(3, 1, H, W, dtype=torch.float64) - 0.1
    maps[1, 0, 3, 4] = 0.0  # a maximum of exactly 0 off the origin: still (0, 0) (official: maxvals > 0)
    maps[2, 0, 3, 4] = 1e-6  # a tiny positive maximum counts
    expected = official_final_preds(maps.numpy())
    np.testing.assert_array_equal(heatmap_argmax(maps).numpy(), expected)
    assert expected[1, 0].tolist() == [0.0, 0.0] and expected[2, 0].tolist() != [0.0, 0.0]


def official_pckh_counts(pred, gt, visible, headboxes, threshold):
    n, j, _ = pred.shape
    correct, seen = np.zeros(j), np.zeros(j)
    for i in range(n):
        head = 0.6 * np.linalg.norm(headboxes[i, 1] - headboxes[i, 0])
        for k in range(j):
            if visible[i, k]:
                seen[k] += 1
                correct[k] += np.linalg.norm(pred[i, k] - gt[i, k]) <= threshold * head
    return correct, seen


def pose_case(seed=0, n=40):
    """Joints far from the origin, head boxes at random places (diagonal 15-45 px), errors up to about
    twice the head size, a fifth of the joints invisible (with large errors, which must not count)."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(100, 900, (n, 16, 2))
    corner = rng.uniform(50, 500, (n, 1, 2))
    headboxes = np.concatenate([corner, corner + rng.uniform(9, 27, (n, 1, 2))], 1)
    pred = gt + rng.normal(0, 8, (n, 16, 2))
    visible = rng.uniform(size=(n, 16)) > 0.2
    pred[~visible] += 1000
    return pred, gt, visible.astype(np.float64), headboxes


@pytest.mark.parametrize("threshold", [0.5, 0.2])
def test_pckh_counts_and_groups_equal_the_official_evaluation(threshold):
    pred, gt, visible, headboxes = pose_case()
    correct, seen = pckh_counts(pred, gt, visible, headboxes, threshold)
    expected_correct, expected_seen = official_pckh_counts(pred, gt, visible, headboxes, threshold)
    np.testing.assert_array_equal(correct.numpy(), expected_correct)
    np.testing.assert_array_equal(seen.numpy(), expected_seen)
    assert 0 < expected_correct.sum() < expected_seen.sum()  # the case separates right from wrong joints
    per_joint = 100 * expected_correct / expected_seen
    index = {name: i for i, name in enumerate(MPII_JOINTS)}
    groups = {group: np.mean([per_joint[index[name]] for name in names]) for group, names in PCKH_GROUPS.items()}
    kept = [i for name, i in index.items() if name not in ("pelv", "thor")]
    groups["Mean"] = 100 * expected_correct[kept].sum() / expected_seen[kept].sum()
    for result in (pckh_from_counts(correct, seen), pckh(pred, gt, visible, headboxes, threshold)):
        assert result.keys() == groups.keys()
        for group, value in groups.items():
            assert result[group] == pytest.approx(value, abs=1e-12), group


def test_pose_loss_and_predictions_by_loops():
    g = torch.Generator().manual_seed(0)
    output = torch.randn(3, 4, H, W, generator=g, dtype=torch.float64)
    target = {"heatmaps": torch.randn(3, 4, H, W, generator=g, dtype=torch.float64),
              "weights": torch.tensor([[1.0, 0.0, 1.0, 1.0]] * 3), "center": torch.tensor([[300.0, 200.0]] * 3),
              "box": torch.tensor([120.0, 60.0, 240.0])}
    loss = PoseEstimation().per_sample_loss(output, target)
    out, hm, wt = output.numpy(), target["heatmaps"].numpy(), target["weights"].numpy()
    expected = [np.mean([0.5 * np.mean((wt[b, k] * (out[b, k] - hm[b, k])) ** 2) for k in range(4)]) for b in range(3)]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    coords = official_final_preds(out)
    expected_pixels = np.array([[[300.0 + (coords[b, k, 0] - W / 2) * target["box"][b].item() / W,
                                  200.0 + (coords[b, k, 1] - H / 2) * target["box"][b].item() / W]
                                 for k in range(4)] for b in range(3)])
    np.testing.assert_allclose(PoseEstimation().predictions(output, target).numpy(), expected_pixels)


def test_crowd_counts_are_map_sums_over_log_para():
    density = torch.rand(3, 1, 5, 4, generator=torch.Generator().manual_seed(0))
    counts = CrowdCounting().counts(density)
    expected = [density[b].double().sum().item() / CROWD_LOG_PARA for b in range(3)]
    assert counts.shape == (3,)
    np.testing.assert_allclose(counts.numpy(), expected)


def test_pose_metric_is_pckh_at_half_the_head_size():
    """The task's metric (metric_sums + reduce_metrics, what a study records) is PCKh@0.5 of its own
    predictions: joints placed at 0.2 .. 1.7 head sizes from the prediction separate 0.5 from any other
    threshold."""
    g = torch.Generator().manual_seed(0)
    output = torch.rand(5, 16, H, W, generator=g, dtype=torch.float64)
    target = {"center": torch.rand(5, 2, generator=g, dtype=torch.float64) * 500 + 100,
              "box": torch.rand(5, generator=g, dtype=torch.float64) * 200 + 100,
              "headboxes": torch.tensor([[[40.0, 50.0], [64.0, 82.0]]] * 5, dtype=torch.float64),  # diagonal 40
              "visible": torch.ones(5, 16)}
    target["visible"][0, 3] = 0
    pred = PoseEstimation().predictions(output, target)
    head = 0.6 * 40.0
    fraction = 0.2 + 0.1 * torch.arange(16, dtype=torch.float64)  # 0.2 .. 1.7 head sizes
    target["joints"] = pred + torch.stack([fraction * head, torch.zeros(16, dtype=torch.float64)], -1)
    sums = PoseEstimation().metric_sums(output, target)
    correct, seen = official_pckh_counts(pred.numpy(), target["joints"].numpy(), target["visible"].numpy(),
                                         target["headboxes"].numpy(), 0.5)
    np.testing.assert_array_equal(sums["correct"].numpy(), correct)
    np.testing.assert_array_equal(sums["visible"].numpy(), seen)
    metrics = PoseEstimation().reduce_metrics(sums, 5)
    assert metrics["pckh"] == pytest.approx(pckh_from_counts(correct, seen)["Mean"])


def test_classification_accuracy_counts_the_argmax_hits():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(50, 4, generator=g), torch.randint(0, 4, (50,), generator=g)
    hits = sum(int(np.argmax(row)) == label for row, label in zip(logits.numpy(), target.tolist()))
    assert 0 < hits < 50
    task = Classification()
    sums = task.metric_sums(logits, target)
    assert int(sums["correct"]) == hits
    assert task.reduce_metrics(sums, 50) == {"accuracy": pytest.approx(100.0 * hits / 50)}


@pytest.mark.parametrize("seed", range(5))
def test_spearman_equals_scipy(seed):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 5, (40,), generator=generator).float()  # ties on purpose
    b = torch.randn(40, generator=generator)
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)


def test_spearman_takes_tensors_lists_and_arrays_alike():
    """= scipy's, whatever the container (the loss-ranking experiment passes numpy arrays, the loop tensors)."""
    g = np.random.default_rng(0)
    a, b = g.normal(size=30), g.normal(size=30)
    b[:10] = a[:10]  # some agreement, some ties in neither
    expected = scipy.stats.spearmanr(a, b).statistic
    grad = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)  # a head's output, say
    for x, y in ((a, b), (a.tolist(), b.tolist()), (torch.tensor(a), torch.tensor(b)), (a.tolist(), torch.tensor(b)),
                 grad):
        assert spearman(x, y) == pytest.approx(expected, abs=1e-12)


def test_softmax_entropy():
    uniform = torch.zeros(1, 10)
    assert torch.allclose(softmax_entropy(uniform), torch.tensor([torch.log(torch.tensor(10.0))]))
    confident = torch.tensor([[100.0, 0, 0]])
    assert softmax_entropy(confident).item() < 1e-6
    probs = torch.tensor([0.5, 0.25, 0.25])
    assert torch.allclose(softmax_entropy(probs.log()[None]), -(probs * probs.log()).sum()[None])
    assert Classification().entropy(torch.tensor([[2.0, 1.0], [5.0, -5.0]])).argmax() == 0


def test_pckh_by_hand():
    headboxes = torch.tensor([[[0.0, 0.0], [30.0, 40.0]]] * 2)  # diagonal 50 -> head size 30 -> threshold 15 px
    gt = torch.zeros(2, 16, 2)
    pred = gt.clone()
    pred[0, 9] = torch.tensor([15.0, 0.0])  # head: exactly at the threshold -> correct (<=)
    pred[1, 9] = torch.tensor([12.0, 9.1])  # 15.06 px -> wrong
    pred[0, 12] = torch.tensor([100.0, 0.0])  # rsho wrong in sample 0
    pred[:, 6] = 100.0  # pelvis and thorax wrong: excluded from the mean
    pred[:, 7] = 100.0
    visible = torch.ones(2, 16)
    visible[1, 0] = 0  # rank missing in sample 1 (its error does not count)
    pred[1, 0] = 500.0
    out = pckh(pred, gt, visible, headboxes)
    assert out["Head"] == pytest.approx(50.0)
    assert out["Shoulder"] == pytest.approx(0.5 * (50.0 + 100.0))
    assert out["Ankle"] == pytest.approx(100.0)
    assert out["Elbow"] == out["Wrist"] == out["Hip"] == out["Knee"] == 100.0
    # 14 joints x 2 samples - 1 missing = 27 counted; wrong: head of sample 1, rsho of sample 0
    assert out["Mean"] == pytest.approx(100.0 * 25 / 27)


def test_heatmap_argmax_quarter_offset():
    hm = torch.zeros(1, 1, 8, 8)
    hm[0, 0, 4, 4], hm[0, 0, 4, 5], hm[0, 0, 3, 4] = 1.0, 0.5, 0.2
    assert heatmap_argmax(hm)[0, 0].tolist() == [4.25, 3.75]
    edge = torch.zeros(1, 1, 8, 8)
    edge[0, 0, 1, 1] = 1.0  # not interior (official: 1 < px < w - 1): no shift
    assert heatmap_argmax(edge)[0, 0].tolist() == [1.0, 1.0]


def test_task_loss_and_entropy():
    task = get_task("pose")
    assert task.metric == "pckh" and task.higher_is_better
    heat = torch.zeros(2, 16, 4, 4)
    heat[:, :, 1, 1] = 1.0
    weights = torch.ones(2, 16)
    weights[1, :8] = 0
    loss = task.per_sample_loss(torch.zeros_like(heat), {"heatmaps": heat, "weights": weights})
    torch.testing.assert_close(loss, torch.tensor([0.5 / 16, 0.5 / 16 / 2]))
    uniform = task.entropy(torch.zeros(1, 16, 4, 4))
    assert uniform.item() == pytest.approx(np.log(16))
    assert task.entropy(heat * 100)[0].item() < 1e-6


def test_task_loss_metrics_entropy():
    task = get_task("crowd_counting")
    assert task.metric == "mae" and not task.higher_is_better
    target = torch.zeros(2, 1, 4, 4)
    target[0, 0, 1, 1] = 3 * LOG_PARA  # 3 heads
    target[1, 0, 0, 0] = 1 * LOG_PARA
    output = target.clone()
    output[0, 0, 2, 2] = 0.5 * LOG_PARA  # predicts 3.5
    output[1] = 0  # predicts 0
    loss = task.per_sample_loss(output, target)
    torch.testing.assert_close(loss, torch.tensor([(50.0 ** 2) / 16, (100.0 ** 2) / 16]))
    metrics = task.reduce_metrics(task.metric_sums(output, target), 2)
    assert metrics["mae"] == pytest.approx((0.5 + 1) / 2)
    assert metrics["rmse"] == pytest.approx(((0.25 + 1) / 2) ** 0.5)
    flat, peaked = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    peaked[0, 0, 0, 0] = 50.0
    assert task.entropy(flat).item() == pytest.approx(np.log(16))
    assert task.entropy(peaked).item() < 1e-6
