"""ResNet-18 for small images as in the LL4AL reference (3x3 stem, no max-pool), any width."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import ModelOutput, register_model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class SmallImageResNet(nn.Module):
    """(B, 3, H, W) -> ModelOutput(logits (B, classes), 4 block maps, embedding (B, 8*width)).

    `dropout` > 0 puts a dropout layer between the embedding and the final FC (BALD's MC dropout,
    Gal et al. 2017); at 0 there is none: the reference ResNet-18."""

    def __init__(self, blocks=(2, 2, 2, 2), num_classes: int = 10, width: int = 64, in_channels: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, in_planes = [], width
        for i, n in enumerate(blocks):
            planes = width * 2 ** i
            strides = [1 if i == 0 else 2] + [1] * (n - 1)
            stage = []
            for stride in strides:
                stage.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
            layers.append(nn.Sequential(*stage))
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()  # no parameters: state dicts unchanged
        self.linear = nn.Linear(in_planes, num_classes)
        self.feature_channels = [width * 2 ** i for i in range(len(blocks))]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        out = F.relu(self.bn1(self.conv1(x)))
        features = []
        for layer in self.layers:
            out = layer(out)
            features.append(out)
        # global average pooling = the reference's avg_pool2d(4) at 32x32, and any size at 64x64
        embedding = out.mean((2, 3))
        return ModelOutput(self.linear(self.dropout(embedding)), features, embedding)


@register_model("resnet18")
def resnet18(params, data) -> SmallImageResNet:
    return SmallImageResNet((2, 2, 2, 2), num_classes=data.num_classes, width=params.model_width,
                            dropout=params.dropout)
