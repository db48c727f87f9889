"""Tasks: what a per-sample loss, an evaluation metric and an entropy score mean for each problem.

A strategy never looks at the task's internals: it asks the task for per-sample losses (the
heads' training signal), for entropy scores, and the loop asks it for the metrics. Metrics are
accumulated as sums over test batches so that no task keeps all test outputs in memory.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .registry import Registry


def spearman(a, b) -> float:
    """Spearman's rank correlation of two 1-d sequences (ties get average ranks), = scipy's."""
    a = a.detach().cpu().double().numpy() if torch.is_tensor(a) else np.asarray(a, dtype=float)
    b = b.detach().cpu().double().numpy() if torch.is_tensor(b) else np.asarray(b, dtype=float)
    import scipy.stats  # noqa: PLC0415 -- here, not at the top: it costs every command a second at start-up
    return float(scipy.stats.spearmanr(a, b).statistic)


def softmax_entropy(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy of softmax(logits) along `dim` (nats)."""
    log_p = F.log_softmax(logits.float(), dim=dim)
    return -(log_p.exp() * log_p).sum(dim)


# Metrics where smaller is better; every other metric (accuracy, PCKh, Spearman) is better higher. The one
# place the statistics, tables and figures read a metric's orientation from.
LOWER_IS_BETTER = frozenset({"mae", "rmse"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


class Task:
    name: str
    metric: str  # the primary metric (the learning curve's y axis)

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.metric)

    def per_sample_loss(self, output: torch.Tensor, target) -> torch.Tensor:
        """(B,) loss of each sample; its mean is the target model's training loss."""
        raise NotImplementedError

    def entropy(self, output: torch.Tensor) -> torch.Tensor:
        """(B,) uncertainty score: higher = more uncertain."""
        raise NotImplementedError

    def metric_sums(self, output: torch.Tensor, target) -> dict[str, torch.Tensor]:
        """Batch contributions to the metrics, summed over the batch (added up across batches)."""
        raise NotImplementedError

    records_items = False  # whether item_values gives anything (the loop asks for them at the final cycle if so)

    def item_values(self, output: torch.Tensor, target) -> dict[str, torch.Tensor] | None:
        """Per test item, what a report plots of the final model (e.g. a count against its error); None: nothing."""
        return None

    def reduce_metrics(self, sums: dict[str, torch.Tensor], n: int) -> dict[str, float]:
        raise NotImplementedError


class Classification(Task):
    name, metric = "classification", "accuracy"

    def per_sample_loss(self, output, target):
        return F.cross_entropy(output.float(), target, reduction="none")

    def entropy(self, output):
        return softmax_entropy(output)

    def metric_sums(self, output, target):
        return {"correct": (output.argmax(1) == target).sum()}

    def reduce_metrics(self, sums, n):
        return {"accuracy": 100.0 * float(sums["correct"]) / n}  # percent, as in the paper


TASKS = Registry("task")  # name -> Task instance
get_task = TASKS.get


def register_task(task: Task) -> Task:
    return TASKS.register(task.name)(task)


register_task(Classification())


def primary_metrics() -> set[str]:
    """The metric each task's learning curve shows (accuracy, mae, pckh): how a results table's main
    metric is recognised."""
    return {get_task(name).metric for name in TASKS.names()}


# --- regression tasks (paper Sec. IV-C, IV-D)

CROWD_LOG_PARA = 100.0  # C^3's LOG_PARA: density maps are stored and predicted x 100


class CrowdCounting(Task):
    """Density-map regression (C^3): the loss is the pixel MSE of the map (x LOG_PARA); a count is the
    map's sum / LOG_PARA. Metrics: MAE and RMSE of the counts (C^3 calls the latter "MSE")."""

    name, metric = "crowd_counting", "mae"
    log_para = CROWD_LOG_PARA
    records_items = True

    def per_sample_loss(self, output, target):
        if output.shape != target.shape:
            raise ValueError(f"density map of shape {tuple(output.shape)} against a target of {tuple(target.shape)}:"
                             " input sides must be multiples of 8")
        return (output.float() - target.float()).pow(2).flatten(1).mean(1)

    def entropy(self, output):
        return softmax_entropy(output.flatten(1))  # softmax over the density map's pixels

    def counts(self, density: torch.Tensor) -> torch.Tensor:
        return density.double().flatten(1).sum(1) / self.log_para

    def metric_sums(self, output, target):
        # target maps sum to heads x LOG_PARA exactly (up to float rounding): round to the annotated count
        error = self.counts(output) - self.counts(target).round()
        return {"abs_error": error.abs().sum(), "squared_error": error.pow(2).sum()}

    def reduce_metrics(self, sums, n):
        return {"mae": float(sums["abs_error"]) / n, "rmse": float(sums["squared_error"] / n) ** 0.5}

    def item_values(self, output, target):
        return {"count": self.counts(target).round(), "predicted_count": self.counts(output)}


MPII_JOINTS = ["rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head",
               "rwri", "relb", "rsho", "lsho", "lelb", "lwri"]  # gt_valid.mat's dataset_joints order
MPII_FLIP_PAIRS = [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)]
PCKH_GROUPS = {"Head": ["head"], "Shoulder": ["lsho", "rsho"], "Elbow": ["lelb", "relb"], "Wrist": ["lwri", "rwri"],
               "Hip": ["lhip", "rhip"], "Knee": ["lkne", "rkne"], "Ankle": ["lank", "rank"]}
PCKH_SC_BIAS = 0.6  # head size = 0.6 x the head box diagonal (official evaluation)


def pckh_counts(pred, gt, visible, headboxes, threshold: float = 0.5):
    """Per-joint (correct (J,), visible (J,)) counts of PCKh: a visible joint is correct when its
    distance to the ground truth is <= threshold x 0.6 x the diagonal of the head box.
    pred, gt: (N, J, 2) pixels (same frame); visible: (N, J); headboxes: (N, 2, 2) = [[x1, y1], [x2, y2]]."""
    pred, gt = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(gt, dtype=torch.float64)
    visible = torch.as_tensor(visible).to(torch.float64)
    headboxes = torch.as_tensor(headboxes, dtype=torch.float64)
    head_size = (headboxes[:, 1] - headboxes[:, 0]).norm(dim=-1) * PCKH_SC_BIAS  # (N,)
    scaled_error = (pred - gt).norm(dim=-1) / head_size[:, None] * visible  # (N, J), as the official code
    correct = ((scaled_error <= threshold).to(torch.float64) * visible).sum(0)
    return correct, visible.sum(0)


def pckh_from_counts(correct, visible) -> dict[str, float]:
    """Official grouping: Head = head top; a pair's value = mean of its two joints; Mean = all correct /
    all visible joints with pelvis and thorax excluded (the official jnt_ratio weighting)."""
    correct, visible = torch.as_tensor(correct, dtype=torch.float64), torch.as_tensor(visible, dtype=torch.float64)
    per_joint = 100.0 * correct / visible  # NaN for a joint never visible, as the official np.divide
    index = {name: i for i, name in enumerate(MPII_JOINTS)}
    out = {group: float(per_joint[[index[j] for j in joints]].mean()) for group, joints in PCKH_GROUPS.items()}
    keep = torch.ones(len(MPII_JOINTS), dtype=torch.bool)
    keep[[index["pelv"], index["thor"]]] = False
    out["Mean"] = float(100.0 * correct[keep].sum() / visible[keep].sum())
    return out


def pckh(pred, gt, visible, headboxes, threshold: float = 0.5) -> dict[str, float]:
    """MPII PCKh@threshold as the official evaluation (Simple Baselines' mpii.evaluate): percent per
    joint group (Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle) and "Mean" (pelvis and thorax excluded)."""
    return pckh_from_counts(*pckh_counts(pred, gt, visible, headboxes, threshold))


def heatmap_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, J, H, W) -> (B, J, 2) (x, y) heatmap coordinates as Simple Baselines' get_final_preds: the
    argmax, moved a quarter pixel towards the higher neighbour in x and in y (interior points)."""
    b, j, h, w = heatmaps.shape
    flat = heatmaps.float().flatten(2)
    maxval, idx = flat.max(-1)
    idx = torch.where(maxval > 0, idx, torch.zeros_like(idx))  # official: a non-positive maximum gives (0, 0)
    x, y = (idx % w), torch.div(idx, w, rounding_mode="floor")
    coords = torch.stack([x, y], -1).double()
    interior = (x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)  # official: 1 < px < heatmap_width - 1
    xr, xl = (x + 1).clamp(max=w - 1), (x - 1).clamp(min=0)
    yd, yu = (y + 1).clamp(max=h - 1), (y - 1).clamp(min=0)
    at = lambda yy, xx: flat.gather(-1, (yy * w + xx).unsqueeze(-1)).squeeze(-1)  # noqa: E731
    diff = torch.stack([at(y, xr) - at(y, xl), at(yd, x) - at(yu, x)], -1).double()
    return coords + torch.where(interior.unsqueeze(-1), torch.sign(diff) * 0.25, torch.zeros_like(diff))


class PoseEstimation(Task):
    """Heatmap regression (Simple Baselines): per-sample loss = the joints MSE with target weights
    (0.5 x pixel MSE per joint, averaged over joints); metric PCKh@0.5 on original-image pixels.

    Targets are dicts: `heatmaps` (B, J, h, w), `weights` (B, J); for test batches also `center` (B, 2),
    `box` (B,) (crop side in original pixels), `joints` (B, J, 2), `visible` (B, J), `headboxes` (B, 2, 2)."""

    name, metric = "pose", "pckh"

    def per_sample_loss(self, output, target):
        weights = target["weights"].float()[:, :, None, None]
        diff = (output.float() - target["heatmaps"].float()) * weights
        return 0.5 * diff.pow(2).flatten(2).mean(2).mean(1)

    def entropy(self, output):
        return softmax_entropy(output.flatten(2)).mean(1)  # entropy of each joint's heatmap, averaged

    def predictions(self, output, target) -> torch.Tensor:
        """(B, J, 2) predicted joints in original-image pixels (the crop's affine map inverted)."""
        h, w = output.shape[-2:]
        coords = heatmap_argmax(output)
        size = torch.tensor([w, h], dtype=torch.float64, device=output.device)
        box = target["box"].double()[:, None, None]  # one factor for both axes (box side / heatmap width)
        return target["center"].double()[:, None, :] + (coords - size / 2) * box / w

    def metric_sums(self, output, target):
        pred = self.predictions(output, target)
        correct, visible = pckh_counts(pred, target["joints"], target["visible"], target["headboxes"])
        return {"correct": correct, "visible": visible}

    def reduce_metrics(self, sums, n):
        values = pckh_from_counts(sums["correct"].cpu(), sums["visible"].cpu())
        out = {"pckh": values.pop("Mean")}
        out.update({f"pckh_{group.lower()}": value for group, value in values.items()})
        return out


register_task(CrowdCounting())
register_task(PoseEstimation())
