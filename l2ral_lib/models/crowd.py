"""C^3 framework's "Res50" crowd counter (paper Sec. IV-D), and the ResNet-50 trunk the pose model shares.

Res50 (C^3, models/SCC_Model/Res50.py): ResNet-50 conv1..layer2, then layer3 with stride 1 (output
stride 8, layer3's ImageNet weights loaded into it), a decoder of two 1x1 convs (1024 -> 128 -> 1, each
followed by ReLU, initialised N(0, 0.01)) and a nearest x8 upsampling back to the input size.

`ModelOutput.features` = [stem (after max-pool), layer1, layer2, layer3]: the last map is the one
"before the decoder layers" that the paper feeds to the loss-prediction module; LL4AL reads all four.
`embedding` = global average of layer3.

`params.model_width` scales every channel count (64 = the real ResNet-50; the decoder's hidden width
is 2 x model_width = 128). ImageNet weights come only from the file `params.pretrained` (a torchvision
resnet50 state dict, e.g. resnet50-0676ba61.pth), never downloaded here.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..paths import pretrained_file
from .base import ModelOutput, register_model


def _res_layer(Bottleneck, inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """torchvision's ResNet._make_layer for Bottleneck (same module names, so its weights load)."""
    downsample = None
    if stride != 1 or inplanes != planes * Bottleneck.expansion:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes * Bottleneck.expansion, 1, stride, bias=False),
                                   nn.BatchNorm2d(planes * Bottleneck.expansion))
    layers = [Bottleneck(inplanes, planes, stride, downsample)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet50Trunk(nn.Module):
    """torchvision ResNet-50 up to layer3 or layer4, any width; `layer3_stride` 1 = C^3's Res50."""

    def __init__(self, width: int = 64, layer3_stride: int = 2, with_layer4: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        # imported here, where a counter is built: importing torchvision loads torch._dynamo (seconds), which
        # every command that only checks params or lists the models would otherwise pay
        from torchvision.models.resnet import Bottleneck  # noqa: PLC0415
        e = Bottleneck.expansion
        self.layer1 = _res_layer(Bottleneck, width, width, 3, 1)
        self.layer2 = _res_layer(Bottleneck, width * e, width * 2, 4, 2)
        self.layer3 = _res_layer(Bottleneck, width * 2 * e, width * 4, 6, layer3_stride)
        self.layer4 = _res_layer(Bottleneck, width * 4 * e, width * 8, 3, 2) if with_layer4 else None
        self.channels = [width, width * e, width * 2 * e, width * 4 * e] + ([width * 8 * e] if with_layer4 else [])
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x) -> list:
        """-> [stem, layer1, layer2, layer3(, layer4)] maps."""
        out = [self.maxpool(self.relu(self.bn1(self.conv1(x))))]
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            if layer is not None:
                out.append(layer(out[-1]))
        return out


def load_pretrained(trunk: nn.Module, path: str | None) -> None:
    """Copy the ImageNet weights in `path` (torchvision ResNet-50 state dict) into `trunk`; fc is ignored."""
    if not path:
        return
    file = pretrained_file(path)
    state = torch.load(file, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = trunk.state_dict()
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    missing = [k for k in own if k not in state]
    if wrong or missing:
        raise ValueError(f"{file} does not fit this ResNet-50 (model_width must be 64 for ImageNet weights):"
                         f" {len(wrong)} tensors of another shape (e.g. {wrong[:2]}), {len(missing)} missing"
                         f" (e.g. {missing[:2]})")
    trunk.load_state_dict({k: state[k] for k in own})


class CrowdCounterRes50(nn.Module):
    """(B, 3, H, W), H and W multiples of 8 -> ModelOutput(density (B, 1, H, W) x LOG_PARA, 4 maps, (B, 16w))."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.trunk = ResNet50Trunk(width, layer3_stride=1, with_layer4=False)
        hidden = 2 * width
        self.decoder = nn.Sequential(nn.Conv2d(self.trunk.channels[3], hidden, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(hidden, 1, 1), nn.ReLU(inplace=True))
        for m in self.decoder:  # C^3 initialize_weights: normal(0, 0.01), zero bias
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        self.feature_channels = self.trunk.channels[:4]

    def forward(self, x: torch.Tensor) -> ModelOutput:
        features = self.trunk(x)
        density = F.interpolate(self.decoder(features[-1]), scale_factor=8, mode="nearest")
        embedding = features[-1].mean((2, 3))
        return ModelOutput(density, features, embedding)


@register_model("crowd_res50")
def crowd_res50(params, data) -> CrowdCounterRes50:
    model = CrowdCounterRes50(params.model_width)
    load_pretrained(model.trunk, params.pretrained)
    return model
