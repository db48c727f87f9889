"""Output folder of a study: atomic writes, the params guard and provenance.

Every file is written to a temporary name and renamed, so a study killed at any moment leaves
either the old or the new file, never half of one.
"""
from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from .config import ParamsError, Params
from .data.base import PROJECT_ROOT


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, payload) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def atomic_torch_save(path: Path, payload) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def prepare_output(out_dir: Path, params: Params) -> None:
    """Create the folder and write params.json, refusing a folder that holds a study run with other
    params (results of two settings must never mix). Runs before any data is loaded."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise ParamsError("out", f"cannot write to {out_dir} ({error.strerror}); choose another --out") from None
    params_file = out_dir / "params.json"
    current = params.to_dict()
    # where the data lies changes no result: a study may resume with the data moved
    ignored = {"data_root", "download"}
    if params_file.is_file():
        previous = json.loads(params_file.read_text())
        changed = sorted(k for k in (set(previous) | set(current)) - ignored if previous.get(k) != current.get(k))
        if changed:
            raise ParamsError("out", f"{out_dir} holds a study with other params (changed: {', '.join(changed)});"
                                     " use another --out, or delete the folder to start over")
        return
    atomic_write_json(params_file, current)


def git_commit() -> dict:
    def git(*args):
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        return result.stdout.strip() if result.returncode == 0 else None
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def hardware(device: torch.device) -> dict:
    info = {"device": str(device), "platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def provenance(device: torch.device, started: float, finished: float | None, slices: list[str]) -> dict:
    import numpy  # noqa: PLC0415
    import torchvision  # noqa: PLC0415

    return {
        "git": git_commit(),
        "command": sys.argv,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": numpy.__version__},
        "hardware": hardware(device),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(finished)) if finished else None,
        "wall_s": round((finished or time.time()) - started, 2),
        "slices": slices,
    }
