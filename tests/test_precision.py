"""The ranking path (loss heads, sorter, rank losses) stays float32 when the target runs under bf16
autocast: the paper trains in float32, and in bf16 close predicted losses collapse before ranking."""
import subprocess
import sys

import pytest
import torch

from helpers import ROOT
from l2ral_lib import precision
from l2ral_lib.checks import load_params
from l2ral_lib.data.base import ImageClassificationData
from l2ral_lib.models.resnet import SmallImageResNet
from l2ral_lib.precision import cpu_flags, full_precision
from l2ral_lib.strategies import get_strategy
from l2ral_lib.tasks import Classification
from l2ral_lib.training import train_cycle

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


X86_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\nprocessor\t: 1\nflags\t\t: fpu\n"
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_read_x86_and_arm_cpuinfo():
    assert {"avx512_bf16", "avx512f", "fpu"} <= cpu_flags(X86_CPUINFO)
    assert "bf16" in cpu_flags(ARM_CPUINFO) and "0x41" not in cpu_flags(ARM_CPUINFO)


@pytest.mark.parametrize("flag, amp, channels_last, bf16, layout", [
    ("avx512_bf16", True, True, True, True),
    ("avx512_bf16", True, False, True, False),
    ("avx512_bf16", False, True, False, False),  # amp off: float32, and so contiguous (the fp32 CPU segfault)
    (None, True, True, False, False),            # no native bf16: float32, contiguous
])
def test_cpu_precision_follows_the_processor_and_params(monkeypatch, flag, amp, channels_last, bf16, layout):
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: flag)
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"amp": amp, "channels_last": channels_last})
    cpu = torch.device("cpu")
    assert precision.uses_bf16(params, cpu) is bf16 and precision.uses_channels_last(params, cpu) is layout
    with precision.autocast(params, cpu):
        assert torch.is_autocast_enabled("cpu") is bf16
    assert precision.describe(params, cpu).startswith("bf16 autocast" if bf16 else "float32")
    assert precision.prepare(torch.zeros(2, 3, 4, 4), params).is_contiguous(memory_format=torch.channels_last) is layout


def test_cpu_training_runs_in_bf16_with_a_float32_ranking_path(monkeypatch):
    """One L2R training cycle under CPU amp: the target's convolutions see bf16, the head float32."""
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: "avx512_bf16")
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"amp": True, "channels_last": True, "batch_size": BATCH,
                                                                "epochs": 1,
                                                                "lr_milestones": [1], "head_lr_milestones": [1]})
    torch.manual_seed(0)
    model = SmallImageResNet(width=4).to(memory_format=torch.channels_last)
    strategy = get_strategy("l2r")(params, Classification(), model, "cpu")
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, output.dtype)
        return hook
    model.conv1.register_forward_hook(record("target"))
    strategy.head.register_forward_hook(record("head"))
    data = ImageClassificationData("toy", torch.randint(0, 256, (BATCH, 3, 32, 32), dtype=torch.uint8),
                                   torch.randint(0, 10, (BATCH,)), torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
                                   torch.zeros(1, dtype=torch.long), 10, "cpu")
    train_cycle(model, strategy, data, Classification(), torch.arange(BATCH), params, "test", progress=False)
    assert seen == {"target": torch.bfloat16, "head": torch.float32}


@pytest.mark.parametrize("width, size", [(8, 64), (16, 32), (4, 32)])
def test_bf16_channels_last_backward_runs_on_cpu(width, size):
    """The CPU settings the profiles enable (bf16 + channels_last at the smoke widths) must not hit the
    float32 channels_last segfault of torch 2.14.1: run in a subprocess so a crash fails, not kills, the suite."""
    code = ("import torch; from l2ral_lib.models.resnet import SmallImageResNet\n"
            f"m = SmallImageResNet(num_classes=40, width={width}).to(memory_format=torch.channels_last)\n"
            f"x = torch.randn(64, 3, {size}, {size}).contiguous(memory_format=torch.channels_last)\n"
            "with torch.autocast('cpu', dtype=torch.bfloat16):\n    out = m(x).output\n"
            "out.float().sum().backward()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("amp, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_query_runs_the_target_as_it_trains_and_scores_in_float32(monkeypatch, amp, expected):
    """A query's forward passes use the training precision and layout (the loss heads then read the
    feature maps they trained on); the scores a strategy ranks are float32 in either case."""
    monkeypatch.setattr(precision, "cpu_bf16_flag", lambda: "avx512_bf16")
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"amp": amp, "channels_last": amp, "eval_batch_size": 8})
    torch.manual_seed(0)
    model = SmallImageResNet(width=4)
    if amp:
        model = model.to(memory_format=torch.channels_last)
    seen = {}
    model.conv1.register_forward_hook(lambda module, inputs, output: seen.update(
        target=output.dtype, channels_last=inputs[0].is_contiguous(memory_format=torch.channels_last)))
    data = ImageClassificationData("toy", torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8),
                                   torch.randint(0, 10, (20,)), torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
                                   torch.zeros(1, dtype=torch.long), 10, "cpu")
    from l2ral_lib.strategies import QueryContext
    ctx = QueryContext(model=model, data=data, task=Classification(), params=params, labeled=torch.arange(4),
                       subset=torch.arange(4, 20))
    given = {}

    def score(out):
        given.update(output=out.output.dtype, embedding=out.embedding.dtype)
        return out.output.sum(1)
    scores = ctx.map_pool(ctx.subset, score)
    assert seen == {"target": expected, "channels_last": amp}
    assert given == {"output": torch.float32, "embedding": torch.float32} and scores.dtype == torch.float32
    for name in ("entropy", "l2r"):  # the scores of a real strategy too
        strategy = get_strategy(name)(params, Classification(), model, "cpu")
        assert strategy.score(ctx).dtype == torch.float32


@pytest.mark.parametrize("width, size", [(8, 64), (16, 32)])
def test_vaal_vae_runs_channels_last_on_cpu(width, size):
    """VAAL's VAE takes the target's channels_last layout at the smoke widths (CelebA: 8 on 64x64, where the
    target's own float32 backward segfaults): in float32 it computes what the contiguous one does, and
    its bf16 backward runs."""
    code = ("import torch; from l2ral_lib.strategies.vaal import VAE\n"
            f"torch.manual_seed(0); vae = VAE(3, {size}, 32, {width})\n"
            "ref = VAE(3, %d, 32, %d); ref.load_state_dict(vae.state_dict())\n" % (size, width) +
            "vae = vae.to(memory_format=torch.channels_last)\n"
            f"x = torch.randn(16, 3, {size}, {size})\n"
            "torch.manual_seed(1); r, mu, lv = vae(x.contiguous(memory_format=torch.channels_last))\n"
            "torch.manual_seed(1); r0, mu0, lv0 = ref(x)\n"
            "(r.sum() + mu.sum()).backward(); (r0.sum() + mu0.sum()).backward()\n"
            "torch.testing.assert_close(r, r0, rtol=1e-4, atol=1e-5)\n"
            "g, g0 = vae.encoder[0].weight.grad, ref.encoder[0].weight.grad\n"
            "assert (g - g0).norm() < 1e-3 * g0.norm(), ((g - g0).norm() / g0.norm()).item()\n"
            "with torch.autocast('cpu', dtype=torch.bfloat16):\n    r, mu, lv = vae(x.contiguous(memory_format=torch.channels_last))\n"
            "(r.float().sum() + mu.float().sum()).backward(); assert torch.isfinite(vae.encoder[0].weight.grad).all()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
