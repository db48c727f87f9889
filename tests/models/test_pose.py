"""The pose model (models/pose.py): Simple Baselines' ResNet-50 heatmap shapes."""
import torch

from l2ral_lib.models.pose import PoseResNet50


def test_model_shapes():
    model = PoseResNet50(width=4)
    out = model(torch.randn(2, 3, 128, 128))
    assert out.output.shape == (2, 16, 32, 32)
    assert [f.shape[1] for f in out.features] == model.feature_channels == [16, 32, 64, 128]
    assert out.embedding.shape == (2, 128)
