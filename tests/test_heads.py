"""The loss-prediction heads (heads.py): one predicted loss per sample."""
import torch

from l2ral_lib.heads import L2RHead, LossNet
from l2ral_lib.models.resnet import SmallImageResNet


def test_heads_output_one_value_per_sample():
    model = SmallImageResNet(width=4)
    out = model(torch.randn(3, 3, 32, 32))
    assert L2RHead(model.feature_channels[-1])(out.features).shape == (3,)
    assert LossNet(model.feature_channels)(out.features).shape == (3,)
