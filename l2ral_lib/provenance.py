"""Provenance: what a run ran on (commit, library versions, hardware, weights) and which runs computed
which cycles of a slice (slices/<slice>/provenance.json), merged per study (provenance.json)."""
from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy
import torch
import torchvision

from .files import atomic_write_json
from .paths import PROJECT_ROOT

log = logging.getLogger(__name__)


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



def environment(device: torch.device) -> dict:
    """What a run ran on: code commit, library versions, hardware."""
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
