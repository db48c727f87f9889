"""Numerical precision of the target model: bf16 autocast and channels_last where the device runs
them natively (params `amp`, `channels_last`), float32 elsewhere, and float32 always on the ranking
path (loss heads, sorter, rank losses) and the evaluation metrics.

The paper trains in float32 (Sec. IV, PyTorch). bf16 autocast is a declared speed choice
(FIDELITY.md): on CUDA, and on CPUs with native bf16 arithmetic, where it roughly doubles the
training throughput of the study's ResNets (benchmarks/bench.py, BENCHMARKS.md).
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path

import torch

from . import compilation

# /proc/cpuinfo flags of native bf16 arithmetic: x86 AVX512-BF16 and AMX-BF16, ARMv8.6 BF16.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags(cpuinfo: str) -> set[str]:
    """Feature flags of a /proc/cpuinfo text (x86 `flags`, ARM `Features`)."""
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


@functools.cache
def cpu_bf16_flag() -> str | None:
    """The flag by which this CPU does bf16 natively, or None. Detected once per process. Without one,
    oneDNN emulates bf16 through float32 and autocast is not known to pay: such CPUs train in float32."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() != "Linux" or not cpuinfo.is_file():
        return None
    flags = cpu_flags(cpuinfo.read_text())
    return next((flag for flag in BF16_CPU_FLAGS if flag in flags), None)


@functools.cache
def _cuda_bf16(index: int) -> bool:
    return torch.cuda.get_device_capability(index)[0] >= 8  # Ampere and later compute in bf16


def uses_bf16(params, device: torch.device) -> bool:
    """Whether the target model trains under bf16 autocast: asked for (`amp`) and native on the device."""
    if not params.amp:
        return False
    if device.type == "cuda":
        return _cuda_bf16(device.index if device.index is not None else torch.cuda.current_device())
    return device.type == "cpu" and cpu_bf16_flag() is not None


def uses_channels_last(params, device: torch.device) -> bool:
    """channels_last on CUDA; on CPU only together with bf16: torch 2.14.1's float32 CPU backward
    segfaults on channels_last at widths <= 8 on 64x64 inputs (the CelebA smoke model), while bf16 +
    channels_last runs (tests/test_precision.py, in a subprocess) and is the fastest CPU setting measured
    (BENCHMARKS.md)."""
    if not params.channels_last:
        return False
    return device.type == "cuda" or uses_bf16(params, device)


def describe(params, device: torch.device) -> str:
    """One line: the precision a run trains in, and why (recorded in provenance, printed at start). On
    CUDA float32 means IEEE float32: configure_backends turns TF32 off."""
    cuda = device.type == "cuda"
    tail = (", TF32 off" if cuda else "") + ("; deterministic kernels" if cuda and params.deterministic else "")
    tail += compilation.describe(params)
    if not uses_bf16(params, device):
        reason = ("amp: false" if not params.amp else
                  "no native bf16 on this CPU" if device.type == "cpu" else f"no bf16 on {device}")
        return f"float32 ({reason}{tail})"
    where = f"CPU {cpu_bf16_flag()}" if device.type == "cpu" else str(device)
    layout = " + channels_last" if uses_channels_last(params, device) else ""
    return f"bf16 autocast{layout} ({where}); ranking path and metrics float32{tail}"


def configure_backends(params, device: torch.device) -> None:
    """The process-wide backend settings a study runs under (loop.open_study calls it before building
    anything; every --jobs worker is its own process and calls it too).

    TF32 off on CUDA, for convolutions, cuDNN's RNN and matmuls alike: torch's defaults would run float32
    convolutions (and, with cuDNN on for the sorter's forward, the sorter's GRU) with 10-bit mantissas, so
    an `amp: false` run would not be the paper's float32 that provenance records, nor the ranking path
    the float32 that FIDELITY.md states under bf16 autocast. bf16 autocast is the declared speed setting;
    TF32 would be an undeclared third precision.

    `deterministic` (params): cuDNN's deterministic kernels, no cudnn.benchmark, and
    torch.use_deterministic_algorithms(True), which makes any op without a deterministic kernel raise
    instead of differing silently (cuBLAS needs CUBLAS_WORKSPACE_CONFIG set before its first call, set
    here). Otherwise cudnn.benchmark on: the study's shapes are fixed (batch, image size), so cuDNN's
    autotuning is paid once per shape. Both set on every call, so one study's setting never leaks into the
    next in the same process."""
    deterministic = bool(params.deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def autocast(params, device: torch.device):
    """bf16 autocast of the target model's forward (and so its backward) where `uses_bf16`."""
    if uses_bf16(params, device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def full_precision():
    """Suspend any active autocast, CPU or CUDA, for the ranking path (loss heads, sorter, rank losses):
    in bf16 a list of close predicted losses collapses to a few distinct values before it is ranked
    (64 values at 5 +/- 0.05 keep about 7), while the paper trains in float32."""
    with contextlib.ExitStack() as stack:
        for device_type in ("cpu", "cuda"):
            if torch.is_autocast_enabled(device_type):
                stack.enter_context(torch.autocast(device_type, enabled=False))
        yield


def prepare(inputs: torch.Tensor, params) -> torch.Tensor:
    """A batch in the memory layout of the model (see uses_channels_last)."""
    if inputs.dim() == 4 and uses_channels_last(params, inputs.device):
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs
