"""Output folder of a study: atomic writes, the params guard and provenance.

Every file is written to a temporary name and renamed, so a study killed at any moment leaves
either the old or the new file, never half of one.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from .config import Params
from .errors import ParamsError
from .paths import PROJECT_ROOT

log = logging.getLogger(__name__)


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


# where the data lies, where the slices run, or which study finished slices were copied from, changes no
# result: a study may resume with the data moved or on a cluster
IGNORED_PARAMS = {"data_root", "download", "reuse_from", "cluster"}
# a slice's results do not depend on which other slices the study has: a rerun may add seeds or strategies
# (a one-seed proof run first, the other seeds later; new baselines beside finished ones)
GROWING_PARAMS = ("seeds", "strategies")


def guard_output(out_dir: Path, params: Params) -> None:
    """Refuse an output folder that holds a study run with other params (results of two settings must
    never mix), or one that cannot be written. Writes nothing: runs before the data is loaded."""
    out_dir = Path(out_dir)
    existing = next(parent for parent in [out_dir, *out_dir.parents] if parent.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ParamsError("out", f"cannot write to {out_dir} ({existing} is not a writable folder); choose another --out")
    params_file = out_dir / "params.json"
    if params_file.is_file():
        changed = changed_params(json.loads(params_file.read_text()), params)
        if changed:
            raise ParamsError("out", f"{out_dir} holds a study with other params (changed: {', '.join(changed)});"
                                     " use another --out, or delete the folder to start over")


def changed_params(recorded: dict, params: Params, ignored=frozenset()) -> list[str]:
    """Keys in which `params` differ from a recorded params.json, beside those that change no slice."""
    current = params.to_dict()
    skip = IGNORED_PARAMS | set(GROWING_PARAMS) | set(ignored)
    return sorted(k for k in (set(recorded) | set(current)) - skip if recorded.get(k) != current.get(k))


def check_reuse(source: Path, params: Params) -> None:
    """A study whose finished slices may be copied instead of recomputed: same params but for the
    experiment's name, seeds and strategies (cifar10-ablations reusing cifar10-smoke's six methods)."""
    recorded = Path(source) / "params.json"
    if not recorded.is_file():
        raise ParamsError("reuse_from", f"{recorded} not found: {source} holds no study; run it first or set null")
    changed = changed_params(json.loads(recorded.read_text()), params, ignored={"experiment"})
    if changed:
        raise ParamsError("reuse_from", f"{source} ran with other params (changed: {', '.join(changed)}); its slices"
                                     " would not be this study's")


def reuse_slices(source: Path, out_dir: Path, names: list[str], n_cycles: int) -> list[str]:
    """Copy every finished slice of `source` among `names` that `out_dir` has not started (after
    check_reuse); the copy's provenance.json says where it came from. Returns the names copied."""
    copied = []
    for name in names:
        origin, target = Path(source) / "slices" / name, Path(out_dir) / "slices" / name
        rows = origin / "rows.csv"
        if target.exists() or not rows.is_file() or pd.read_csv(rows).cycle.nunique() < n_cycles:
            continue
        partial = target.with_name(f".{name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(origin, partial)
        record = json.loads((partial / "provenance.json").read_text())
        atomic_write_json(partial / "provenance.json", {**record, "copied_from": str(origin)})
        partial.rename(target)
        copied.append(name)
    return copied


def write_params(out_dir: Path, params: Params) -> None:
    """Create the folder and record the resolved params, once every check has passed; seeds and
    strategies accumulate over the runs that shared the folder (in the order first seen)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params_file, record = out_dir / "params.json", params.to_dict()
    if params_file.is_file():
        previous = json.loads(params_file.read_text())
        record = {**previous, **{key: previous[key] + [v for v in record[key] if v not in previous[key]]
                                 for key in GROWING_PARAMS}}
        if record == previous:
            return
    atomic_write_json(params_file, record)


def git_commit() -> dict:
    def git(*args):
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        return result.stdout.strip() if result.returncode == 0 else None
    try:
        # dirty: tracked code, params or notebooks changed; not outputs/, where the shipped studies lie and
        # every rerun or render of one rewrites tracked files
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)outputs"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def hardware(device: torch.device) -> dict:
    info = {"device": str(device), "platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def environment(device: torch.device) -> dict:
    """What a run ran on: code commit, library versions, hardware."""
    import numpy  # noqa: PLC0415
    import torchvision  # noqa: PLC0415

    return {"git": git_commit(),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": numpy.__version__},
            "hardware": hardware(device)}


def timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(seconds))


class SliceProvenance:
    """slices/<slice>/provenance.json: one entry per run that computed cycles of the slice (a resumed
    slice has several), each with its commit, versions, hardware, weights used and the cycles it ran.
    The entry is rewritten after every finished cycle, so a killed run is recorded up to its last cycle."""

    def __init__(self, path: Path, device: torch.device, weights: dict, first_cycle: int, precision: str):
        self.path = Path(path)
        self.runs = json.loads(self.path.read_text())["runs"] if self.path.is_file() else []
        self.entry = {**environment(device), "command": sys.argv, "precision": precision, "weights": weights, "started": timestamp(time.time()),
                      "first_cycle": first_cycle, "cycles_done": first_cycle, "finished": None}
        earlier = sorted({run["git"]["commit"] for run in self.runs} - {self.entry["git"]["commit"]}, key=str)
        if earlier:
            log.warning("%s resumes on commit %s; earlier cycles ran on %s (both recorded in %s)", self.path.parent.name,
                        self.entry["git"]["commit"], ", ".join(map(str, earlier)), self.path)

    def cycle_done(self, cycles_done: int) -> None:
        self.entry.update(cycles_done=cycles_done, finished=timestamp(time.time()))
        atomic_write_json(self.path, {"runs": self.runs + [self.entry]})


def cpu_threads_used(slice_dirs) -> set[int]:
    """The torch thread counts of every recorded run that computed cycles of these slices on a CPU. On a
    CPU a slice's numbers depend on it (kernels split their reductions by thread), so the methods of a
    study share their cycle 0 only where they ran on one thread count, and `verify` reruns on it."""
    counts = set()
    for folder in slice_dirs:
        record = Path(folder) / "provenance.json"
        runs = json.loads(record.read_text())["runs"] if record.is_file() else []
        counts |= {run["hardware"]["torch_threads"] for run in runs
                   if run["hardware"]["device"] == "cpu" and run["cycles_done"] > run["first_cycle"]}
    return counts


def study_provenance(out_dir: Path) -> dict:
    """provenance.json of a study: every slice's runs, and the commits and weights they used
    (`mixed_commits` is true when the rows of one results.csv come from more than one commit)."""
    slices = {path.parent.name: json.loads(path.read_text())["runs"]
              for path in sorted(Path(out_dir).glob("slices/*/provenance.json"))}
    runs = [run for entries in slices.values() for run in entries]
    commits = sorted({str(run["git"]["commit"]) for run in runs})
    weights = {json.dumps(run["weights"], sort_keys=True) for run in runs}
    return {"commits": commits, "mixed_commits": len(commits) > 1,
            "dirty": any(run["git"]["dirty"] for run in runs),
            "weights": [json.loads(w) for w in sorted(weights)], "slices": slices}
