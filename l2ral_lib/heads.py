"""Loss-prediction heads. Both map the target model's block features to one predicted loss per sample."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def global_average_pool(feature_map: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> float32 (B, C), whatever the map's dtype: a bf16 mean would round the heads'
    inputs to 3 significant digits."""
    return feature_map.mean((-2, -1), dtype=torch.float32)


class L2RHead(nn.Module):
    """L2R-AL's module (paper Sec. III-C): GAP -> FC -> LeakyReLU(0.01) -> FC on the last block only."""

    def __init__(self, in_channels: int, hidden: int = 128):
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, features: list) -> torch.Tensor:
        """features: the model's block maps, last (B, C, H, W) used -> (B,) predicted loss."""
        hidden = F.leaky_relu(self.fc1(global_average_pool(features[-1])), negative_slope=0.01)
        return self.fc2(hidden).squeeze(1)


class LossNet(nn.Module):
    """LL4AL's loss prediction module (Yoo & Kweon 2019): per block GAP -> FC(128) -> ReLU,
    concatenated, FC -> 1."""

    def __init__(self, channels: list[int], hidden: int = 128):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(c, hidden) for c in channels)
        self.out = nn.Linear(hidden * len(channels), 1)

    def forward(self, features: list) -> torch.Tensor:
        """features: the model's four block maps (B, C_i, H_i, W_i) -> (B,) predicted loss."""
        pooled = [F.relu(fc(global_average_pool(f))) for fc, f in zip(self.fcs, features)]
        return self.out(torch.cat(pooled, 1)).squeeze(1)
