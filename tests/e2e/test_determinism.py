"""GPU reproducibility as stated (params `deterministic`, precision.configure_backends), and that the
replacements it needed compute what they replaced to the last bit on the CPU, so no shipped result changes."""
import pytest
import torch
import torch.nn.functional as F

from l2ral_lib.loop import run_study
from l2ral_lib.precision import configure_backends, describe
from l2ral_lib.sorter.nets import _lower_median


@pytest.fixture
def restore_backends():
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    yield
    torch.use_deterministic_algorithms(saved[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1:3]
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved[3:]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape", [(64, 512, 4, 4), (8, 64, 8, 8), (5, 128, 7, 9), (4, 48, 24, 32), (2, 16, 1, 1)])
def test_a_mean_over_h_w_is_adaptive_average_pooling_to_the_last_bit(dtype, channels_last, shape):
    """The models' global pool became x.mean((2, 3)) (adaptive_avg_pool2d's CUDA backward has no deterministic
    kernel): forward and gradient identical on the CPU in float32 and bf16, either layout, so the shipped
    smoke studies (CPU, float32 and bf16) would compute the same numbers."""
    torch.manual_seed(0)
    x = torch.randn(shape).to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(shape[:2]).to(dtype)
    pooled, mean = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    old, new = torch.flatten(F.adaptive_avg_pool2d(pooled, 1), 1), mean.mean((2, 3))
    old.backward(upstream)
    new.backward(upstream)
    assert torch.equal(old, new) and torch.equal(pooled.grad, mean.grad)


def test_the_gru_sorters_median_by_a_sort_is_torch_median():
    """torch.median with indices has no deterministic CUDA kernel; the sort gives its value (the lower middle)
    and, without ties, its gradient."""
    torch.manual_seed(0)
    for n in (4, 5, 64):
        z = torch.randn(7, n)
        a, b = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        old, new = a.median(-1, keepdim=True).values, _lower_median(b)
        (old * torch.arange(1.0, 8).unsqueeze(1)).sum().backward()
        (new * torch.arange(1.0, 8).unsqueeze(1)).sum().backward()
        assert torch.equal(old, new) and torch.equal(a.grad, b.grad)


def test_backends_follow_the_params(ci_params, restore_backends):
    """deterministic: use_deterministic_algorithms, cuDNN deterministic, no benchmark, CUBLAS_WORKSPACE_CONFIG;
    otherwise benchmark on CUDA; TF32 off on CUDA either way; each call sets every flag (no leak between studies)."""
    cuda = torch.device("cuda")  # a device object only: nothing touches a GPU
    configure_backends(ci_params(deterministic=True), cuda)
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
    import os  # noqa: PLC0415
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (":4096:8", ":16:8")
    configure_backends(ci_params(), cuda)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
    assert torch.backends.cudnn.benchmark
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    configure_backends(ci_params(), torch.device("cpu"))
    assert not torch.backends.cudnn.benchmark


def test_describe_says_tf32_is_off_and_deterministic_on_cuda(ci_params, monkeypatch):
    """provenance's precision line: float32 on CUDA is IEEE float32 (TF32 off), for amp false and for the
    float32 ranking path under bf16 autocast; the CPU line is unchanged."""
    import l2ral_lib.precision as precision  # noqa: PLC0415

    monkeypatch.setattr(precision, "_cuda_bf16", lambda index: True)
    cuda, cpu = torch.device("cuda:0"), torch.device("cpu")
    assert describe(ci_params(amp=False), cuda) == "float32 (amp: false, TF32 off)"
    assert describe(ci_params(amp=True, channels_last=True), cuda) == \
        "bf16 autocast + channels_last (cuda:0); ranking path and metrics float32, TF32 off"
    assert describe(ci_params(amp=False, deterministic=True), cuda) == \
        "float32 (amp: false, TF32 off; deterministic kernels)"
    assert describe(ci_params(amp=False, deterministic=True), cpu) == "float32 (amp: false)"


def test_a_deterministic_study_runs_on_the_cpu_and_repeats(ci_params, tmp_path, restore_backends):
    """No op of the study refuses use_deterministic_algorithms on the CPU (the CUDA refusals: tests/e2e/test_gpu.py);
    two runs agree to the last digit, timings aside."""
    params = ci_params(strategies=["random", "entropy", "coreset", "l2r", "ll4al", "vaal"], deterministic=True)
    tables = [run_study(params, "cpu", tmp_path / str(i), progress=False) for i in range(2)]
    kept = [t[~t.metric.str.startswith("time_")].reset_index(drop=True) for t in tables]
    assert torch.are_deterministic_algorithms_enabled()
    assert kept[0].equals(kept[1]) and kept[0].value.notna().all()
