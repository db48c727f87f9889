"""The crowd model (models/crowd.py): C^3's Res50 shapes and its pretrained weights from a file."""
import re

import pytest
import torch

from l2ral_lib.errors import ParamsError
from l2ral_lib.models.crowd import CrowdCounterRes50


def test_model_shapes():
    model = CrowdCounterRes50(width=4)
    out = model(torch.randn(2, 3, 48, 64))
    assert out.output.shape == (2, 1, 48, 64) and (out.output >= 0).all()
    assert [f.shape[1] for f in out.features] == model.feature_channels == [4, 16, 32, 64]
    assert out.features[-1].shape[-2:] == (6, 8)  # layer3 at output stride 8
    assert out.embedding.shape == (2, 64)
    full = CrowdCounterRes50(width=64)  # the real Res50: torchvision resnet50's conv1..layer3 names and shapes
    import torchvision
    reference = torchvision.models.resnet50().state_dict()
    own = full.trunk.state_dict()
    assert all(own[k].shape == reference[k].shape for k in own)


def test_pretrained_weights_load_from_a_file(tmp_path):
    import torchvision
    from l2ral_lib.models.crowd import load_pretrained
    model = CrowdCounterRes50(width=64)
    reference = torchvision.models.resnet50()
    torch.save(reference.state_dict(), tmp_path / "r50.pth")
    load_pretrained(model.trunk, str(tmp_path / "r50.pth"))
    torch.testing.assert_close(model.trunk.layer3[0].conv2.weight, reference.layer3[0].conv2.weight)
    with pytest.raises(ParamsError, match=re.escape(f"pretrained: weights not found at {tmp_path / 'missing.pth'}")):
        load_pretrained(model.trunk, str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="model_width"):
        load_pretrained(CrowdCounterRes50(width=8).trunk, str(tmp_path / "r50.pth"))
