"""The ranking path (loss heads, sorter, rank losses) stays float32 when the target runs under bf16
autocast: the paper trains in float32, and in bf16 close predicted losses collapse before ranking."""
import pytest
import torch

from l2ral_lib.config import load_params
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.strategies import get_strategy
from l2ral_lib.tasks import Classification
from l2ral_lib.training import full_precision
from conftest import ROOT

BATCH = 64


def setup(name):
    """A width-4 target, `name`'s head calibrated so its 64 predictions lie at 5 +/- 0.05, and the
    target's output on a batch computed under CPU bf16 autocast (features in bf16, as with amp)."""
    torch.manual_seed(0)
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"batch_size": BATCH})
    model = SmallImageResNet(width=4)
    strategy = get_strategy(name)(params, Classification(), model, "cpu")
    images = torch.randn(BATCH, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(images)
    assert output.features[-1].dtype == torch.bfloat16
    last = strategy.head.fc2 if name == "l2r" else strategy.head.out
    with torch.no_grad():
        spread = strategy.head([f.float() for f in output.features])
        last.weight.mul_(0.05 / spread.std())
        last.bias.add_(5 - strategy.head([f.float() for f in output.features]).mean())
    return strategy, output


def float32_reference(strategy, output):
    strategy.head.eval()
    return strategy.head([f.float() for f in output.features])


@pytest.mark.parametrize("name", ["l2r", "ll4al", "l2r-all-features"])
def test_predicted_losses_keep_their_resolution_under_autocast(name):
    strategy, output = setup(name)
    reference = float32_reference(strategy, output)
    assert (reference - 5).abs().max() < 0.2 and len(torch.unique(reference)) == BATCH
    with torch.autocast("cpu", dtype=torch.bfloat16):
        predicted = strategy.predicted_loss(output)
        naive = strategy.head(output.features)  # the head left inside autocast
    assert predicted.dtype == torch.float32 and len(torch.unique(predicted)) == BATCH
    torch.testing.assert_close(predicted, reference, rtol=0, atol=1e-6)
    assert len(torch.unique(naive)) < BATCH // 4  # what bf16 does to them: the test can fail


@pytest.mark.parametrize("name", ["l2r", "ll4al"])
def test_head_loss_under_autocast_equals_float32(name):
    strategy, output = setup(name)
    strategy.begin_cycle()
    true_loss = torch.rand(BATCH, generator=torch.Generator().manual_seed(1))
    plain = strategy.head_loss(output, true_loss, epoch=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_amp = strategy.head_loss(output, true_loss, epoch=0)
    assert under_amp.dtype == torch.float32
    torch.testing.assert_close(under_amp, plain, rtol=1e-6, atol=1e-7)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the same objective on bf16-rounded predictions
        rounded = strategy.objective(strategy.head(output.features).float(), true_loss)
    assert abs(rounded.item() * strategy.loss_weight - plain.item()) > 1e-4


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
def test_full_precision_suspends_either_autocast(device_type):
    """The CUDA flag can be set without a GPU: full_precision must clear it and restore it after."""
    previous = torch.is_autocast_enabled(device_type)
    torch.set_autocast_enabled(device_type, True)
    try:
        with full_precision():
            assert not torch.is_autocast_enabled(device_type)
            assert torch.nn.Linear(3, 1)(torch.randn(2, 3)).dtype == torch.float32
        assert torch.is_autocast_enabled(device_type)
    finally:
        torch.set_autocast_enabled(device_type, previous)
