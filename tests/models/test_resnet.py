"""The CIFAR ResNet (models/resnet.py): dropout 0 is the reference network."""
import torch
from torch import nn

from l2ral_lib.models.resnet import SmallImageResNet


def test_dropout_zero_is_the_reference_resnet():
    torch.manual_seed(0)
    plain = SmallImageResNet(width=4)
    torch.manual_seed(0)
    dropped = SmallImageResNet(width=4, dropout=0.5)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    # the dropout layer draws nothing at initialisation: same weights, same state-dict keys
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), dropped.state_dict().values()))
    x = torch.randn(6, 3, 8, 8)
    plain.eval()
    dropped.eval()
    assert torch.equal(plain(x).output, dropped(x).output)
    dropped.train()
    assert not torch.equal(dropped(x).output, dropped(x).output)
