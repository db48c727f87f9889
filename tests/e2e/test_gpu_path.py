"""The GPU path's mechanisms that a CPU can exercise: the device error on a driver mismatch, the
per-slice GPU peak memory. The CUDA-only lines: tests/e2e/test_gpu.py."""
import torch

import l2ral_lib.devices as devices
import l2ral_lib.loop as loop
from l2ral_lib.errors import ParamsError


def refuse(monkeypatch, driver, device_node, count_error=None):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "nvidia_driver", lambda: driver)
    monkeypatch.setattr(devices.Path, "exists", lambda self: device_node if str(self) == "/dev/nvidia0" else False)

    def count():
        if count_error:
            raise RuntimeError(count_error)
        return 0
    monkeypatch.setattr(torch.cuda, "device_count", count)
    try:
        devices.resolve_device("cuda")
    except ParamsError as error:
        return str(error)
    raise AssertionError("cuda without a usable GPU was accepted")


def test_a_gpu_torch_cannot_use_is_named_a_driver_mismatch(monkeypatch):
    """The cu130 wheel on an old driver: torch.cuda.is_available() is False while the GPU is there."""
    message = refuse(monkeypatch, "535.104.05", True)
    assert "driver 535.104.05" in message and f"CUDA {torch.version.cuda}" in message and "update" in message
    assert "no GPU is visible" not in message
    message = refuse(monkeypatch, None, False, "The NVIDIA driver on your system is too old (found version 11040).")
    assert "too old" in message and "driver" in message


def test_no_gpu_at_all_is_still_no_gpu(monkeypatch):
    assert "no GPU is visible" in refuse(monkeypatch, None, False)


def test_every_slice_reports_its_own_gpu_peak(ci_params, tmp_path, monkeypatch):
    """gpu_peak_memory_gib was the process's peak: after VAAL, every slice of a worker reported VAAL's.
    run_slice resets the count at each slice's start (checked on a CPU study: one reset per slice), and the
    reset is torch.cuda.reset_peak_memory_stats of the slice's device."""
    calls = []
    monkeypatch.setattr(loop, "reset_peak_memory", lambda device: calls.append(device.type))
    loop.run_study(ci_params(strategies=["random", "entropy"]), "cpu", tmp_path, progress=False)
    assert calls == ["cpu", "cpu"]
    monkeypatch.undo()
    reset = []
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device: reset.append(str(device)))
    loop.reset_peak_memory(torch.device("cpu"))
    loop.reset_peak_memory(torch.device("cuda:1"))
    assert reset == ["cuda:1"]


def test_verify_says_which_reproducibility_applies(tmp_path):
    import json  # noqa: PLC0415

    def note(kinds, deterministic, rerun):
        record = tmp_path / "provenance.json"
        record.write_text(json.dumps({"runs": [{"hardware": {"device": k, "gpu": "NVIDIA H200"},
                                                "versions": {"torch": "2.14.1"}} for k in kinds]}))
        return devices.reproducibility_note(record, deterministic, rerun)
    assert "expected identical" in note(["cpu"], False, "cpu")
    assert "different random streams" in note(["cpu"], True, "cuda")
    assert "different random streams" in note(["cuda:0"], True, "cpu")
    assert "identical to the last digit on the same GPU" in note(["cuda:0"], True, "cuda")
    assert "may differ" in note(["cuda:0"], False, "cuda:1")
