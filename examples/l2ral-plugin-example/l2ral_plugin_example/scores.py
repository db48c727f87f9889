"""The score, apart from l2ral: a function of the logits alone."""
from __future__ import annotations

import torch


def ratio_of_confidence(logits: torch.Tensor) -> torch.Tensor:
    """(B,) second-highest over highest softmax probability, in (0, 1]: 1 = the model cannot tell its two
    most probable classes apart."""
    top2 = torch.softmax(logits.float(), dim=1).topk(2, dim=1).values
    return top2[:, 1] / top2[:, 0]
