"""How methods and metrics are named and ordered in every table and figure (the strategy key `l2r` is
shown as "L2R-AL": this is a reproduction)."""
from __future__ import annotations

from .stats import better

METHOD_LABELS = {"random": "Random", "entropy": "Entropy", "coreset": "Core-set", "vaal": "VAAL", "ll4al": "LL4AL",
                 "l2r": "L2R-AL", "l2r-all-features": "Rank-all-features", "l2r-mse": "L2R head + MSE",
                 "margin": "Margin", "least-confidence": "Least confidence", "bald": "BALD", "badge": "BADGE",
                 # appended, so that every earlier method keeps its colour (palette follows this order)
                 "l2r-softrank": "L2R head + SoftRank", "l2r-diffsort": "L2R head + DiffSort",
                 "l2r-gru-sorter": "L2R-AL (GRU sorter)",
                 # reads the labels of the subset, so never a competitor; and no bound: the highest-loss items
                 # are not the most useful to label (it trails L2R-AL in the budget study)
                 "oracle-loss": "Loss oracle (probe)",
                 "l2r-joint": "L2R-AL, joint (no stop-gradient)",
                 "ll4al-early-detach": "LL4AL, early detach (sensitivity)"}
METRIC_LABELS = {"accuracy": "Accuracy (%)", "spearman": "Spearman's rank correlation (test)",
                 "spearman_entropy": "Spearman's rank correlation of the entropy (test)", "mae": "MAE",
                 "rmse": "RMSE", "pckh": "PCKh@0.5 (%)"}
METHOD_ORDER = list(METHOD_LABELS)


def ordered(methods) -> list[str]:
    """Methods in the paper's order (baselines, L2R-AL, ablations), others after them by name."""
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def metric_label(metric: str) -> str:
    """The axis / header name of a metric with its direction, e.g. 'MAE (lower is better)'."""
    return f"{METRIC_LABELS.get(metric, metric)} ({better(metric)} is better)"
