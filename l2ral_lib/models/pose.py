"""Simple Baselines (Xiao et al., ECCV 2018) pose network, paper Sec. IV-C: ResNet-50 (conv1..layer4),
three 4x4 stride-2 deconvolutions of 256 channels (BN + ReLU each), a 1x1 conv to 16 joint heatmaps
(output stride 4: 256x256 in, 64x64 out). Initialisation as the official code (deconvs N(0, 0.001),
final conv N(0, 0.001), zero bias).

`ModelOutput.features` = [layer1, layer2, layer3, layer4]: the last is the map "before the
deconvolutional layers" the paper feeds to the loss-prediction module. `embedding` = global average
of layer4. `params.model_width` scales the trunk (64 = ResNet-50) and the deconvs (256 x width / 64);
ImageNet weights only from the file `params.pretrained`.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import ModelOutput, register_model
from .crowd import ResNet50Trunk, load_pretrained

NUM_JOINTS = 16


class PoseResNet50(nn.Module):
    def __init__(self, width: int = 64, joints: int = NUM_JOINTS):
        super().__init__()
        self.trunk = ResNet50Trunk(width, layer3_stride=2, with_layer4=True)
        channels, layers = self.trunk.channels[4], []
        deconv = 4 * width
        for _ in range(3):
            layers += [nn.ConvTranspose2d(channels, deconv, 4, 2, 1, bias=False), nn.BatchNorm2d(deconv),
                       nn.ReLU(inplace=True)]
            channels = deconv
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(deconv, joints, 1)
        for m in self.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)
        self.feature_channels = self.trunk.channels[1:5]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        maps = self.trunk(x)[1:]  # layer1..layer4
        heatmaps = self.final(self.deconv(maps[-1]))
        return ModelOutput(heatmaps, maps, maps[-1].mean((2, 3)))


@register_model("pose_res50")
def pose_res50(params, data) -> PoseResNet50:
    model = PoseResNet50(params.model_width)
    load_pretrained(model.trunk, params.pretrained)
    return model
