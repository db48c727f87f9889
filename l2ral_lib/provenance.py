"""Provenance: what a run ran on (package version and commit, library versions, hardware, weights, numerics
fingerprint) and which runs computed which cycles of a slice (slices/<slice>/provenance.json), merged per
study (provenance.json).

The numerics fingerprint is what decides a CPU or GPU run's last digits beside the code: processor, the
instruction sets that pick its kernels, torch's version and build, device, precision and (on a CPU) the
thread count. Two runs with one fingerprint compute identical rows; with another, a difference is expected
(the same study on an AMD EPYC and on an Intel Xeon with AMX ended 2.6 points apart)."""
from __future__ import annotations

import json
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy
import torch

from . import __version__
from .errors import ParamsError
from .files import atomic_write_json
from .paths import PROJECT_ROOT, is_checkout
from .precision import cpu_flags
from .registry import LOADED
from .study_folder import SliceLayout

# /proc/cpuinfo flags by which torch and oneDNN pick their CPU kernels (x86 vector widths, FMA, VNNI,
# bf16/fp16 and AMX tiles; ARM SIMD, SVE and bf16): a difference in one changes the reductions' order
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "bf16")
FINGERPRINT_KEYS = ("processor", "isa", "torch", "torch_build", "device", "gpu", "precision", "threads")

log = logging.getLogger(__name__)


def git_commit() -> dict:
    """The commit (and whether tracked code differs from it) of the checkout this code runs from. None for
    an installed copy, and for a checkout without .git (an unpacked source): git asked there would answer
    for whatever repository encloses the folder, such as the user's project around a virtual environment."""
    if not (is_checkout(PROJECT_ROOT) and (PROJECT_ROOT / ".git").exists()):  # a worktree's .git is a file
        return {"commit": None, "dirty": None}

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


def cpuinfo() -> str:
    path = Path("/proc/cpuinfo")
    return path.read_text() if path.is_file() else ""


def processor_name(text: str) -> str:
    """The processor's model name: /proc/cpuinfo's "model name" (x86) or "Model"/"Hardware" (ARM);
    platform.processor(), which provenance recorded before, is empty on Linux."""
    for key in ("model name", "Model", "Hardware"):
        found = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            return found.group(1).strip()
    return platform.processor() or platform.machine()


def fingerprint(device: torch.device, precision: str, threads: int | None = None) -> dict:
    """What a run's last digits depend on beside the code and params (module docstring); `threads`: the
    torch CPU threads the run will compute on, where not this process's count now."""
    text = cpuinfo()
    return {"processor": processor_name(text), "isa": " ".join(f for f in KERNEL_FLAGS if f in cpu_flags(text)),
            "torch": torch.__version__,
            "torch_build": f"cuda {torch.version.cuda}, cpu capability {torch.backends.cpu.get_cpu_capability()},"
                           f" mkldnn {torch.backends.mkldnn.is_available()}",
            "device": device.type, "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "precision": precision,
            # on a GPU the model's numbers come from the GPU, not from the CPU's thread pool
            "threads": (threads or torch.get_num_threads()) if device.type == "cpu" else None}


def run_fingerprint(run: dict) -> dict:
    """The fingerprint of a recorded run; for a run recorded before fingerprints, what its record
    tells (None: unknown, never counted as a difference)."""
    if "fingerprint" in run:
        return run["fingerprint"]
    hardware_ = run["hardware"]
    device = hardware_["device"].split(":")[0]
    return {"processor": hardware_.get("processor") or None, "isa": None, "torch": run["versions"]["torch"],
            "torch_build": None, "device": device, "gpu": hardware_.get("gpu"), "precision": run.get("precision"),
            "threads": hardware_["torch_threads"] if device == "cpu" else None}


def slice_runs(folder: SliceLayout) -> list[dict]:
    """Every recorded run of a slice (none where it has no record yet)."""
    return folder.provenance()["runs"] if folder.provenance_file.is_file() else []


def computing_runs(folders: list[SliceLayout]) -> list[dict]:
    """Every recorded run of these slices that computed at least one cycle."""
    return [run for folder in folders for run in slice_runs(folder) if run["cycles_done"] > run["first_cycle"]]


def distinct(fingerprints) -> list[dict]:
    unique = {json.dumps(f, sort_keys=True) for f in fingerprints}
    return [json.loads(f) for f in sorted(unique)]


def fingerprint_differences(recorded: list[dict], now: dict) -> dict[str, list]:
    """key -> the recorded values of each fingerprint key in which `now` differs from `recorded` (unknown
    recorded values aside)."""
    differ = {}
    for key in FINGERPRINT_KEYS:
        values = {f.get(key) for f in recorded} - {None}
        if values and values != {now.get(key)}:
            differ[key] = sorted(values, key=str)
    return differ


def unrecorded(recorded: list[dict], now: dict) -> list[str]:
    """Fingerprint keys that `now` knows and no recorded run does (runs recorded before fingerprints, or
    with platform.processor()'s empty name): a difference there can be neither seen nor ruled out."""
    return [key for key in FINGERPRINT_KEYS if now.get(key) is not None and all(f.get(key) is None for f in recorded)]


def describe_differences(differ: dict[str, list], now: dict, theirs: str = "the study's") -> str:
    """'processor (this run 'X', the study's 'Y'), threads (this run 2, the study's 7)'."""
    return ", ".join(f"{key} (this run {now.get(key)!r}, {theirs} {', '.join(map(repr, values))})"
                     for key, values in differ.items())


def hardware(device: torch.device) -> dict:
    info = {"device": str(device), "platform": platform.platform(), "processor": processor_name(cpuinfo()),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info



def environment(device: torch.device, precision: str) -> dict:
    """What a run ran on: code version and commit, library versions, the installed plugins loaded (group ->
    name -> package and version), hardware, numerics fingerprint."""
    # imported when a run records itself, not with this module: importing torchvision loads torch._dynamo
    # (seconds), which `check` and `list` would otherwise pay
    import torchvision  # noqa: PLC0415
    return {"git": git_commit(),
            "versions": {"l2ral": __version__, "python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": numpy.__version__},
            "plugins": {group: dict(found) for group, found in LOADED.items()},
            "hardware": hardware(device), "fingerprint": fingerprint(device, precision)}


def timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(seconds))


class SliceProvenance:
    """slices/<slice>/provenance.json: one entry per run that computed cycles of the slice (a resumed
    slice has several), each with its commit, versions, hardware, fingerprint, weights used, the cycles it
    ran, and its host and pid. The entry is written after every finished cycle, so a killed run is recorded
    up to its last cycle. Used only while the run holds the slice's lock (outputs.SliceFolder.lock): each
    write reads the file again and replaces this run's own entry, so no other run's record is lost. A run
    that computes the slice from its first cycle replaces every row of the earlier runs (rows committed
    without their state, computed again), so their records go with them: git keeps the committed ones."""

    def __init__(self, path: Path, device: torch.device, weights: dict, first_cycle: int, precision: str):
        self.path = Path(path)
        host, pid, started = socket.gethostname(), os.getpid(), time.time()
        self.entry = {**environment(device, precision), "command": sys.argv, "precision": precision,
                      "weights": weights, "host": host, "pid": pid, "run": f"{host}:{pid}:{started}",
                      "started": timestamp(started), "first_cycle": first_cycle, "cycles_done": first_cycle,
                      "finished": None}
        earlier = sorted({run["git"]["commit"] for run in self.runs()} - {self.entry["git"]["commit"]}, key=str)
        if earlier and first_cycle > 0:
            log.warning("%s resumes on commit %s; earlier cycles ran on %s (both recorded in %s)", self.path.parent.name,
                        self.entry["git"]["commit"], ", ".join(map(str, earlier)), self.path)

    def runs(self) -> list[dict]:
        return json.loads(self.path.read_text())["runs"] if self.path.is_file() else []

    def cycle_done(self, cycles_done: int) -> None:
        self.entry.update(cycles_done=cycles_done, finished=timestamp(time.time()))
        others = [run for run in self.runs() if run.get("run") != self.entry["run"]] if self.entry["first_cycle"] else []
        atomic_write_json(self.path, {"runs": others + [self.entry]})


def recorded_cpu_threads(runs) -> set[int]:
    """The torch thread counts of the recorded runs that computed cycles on a CPU (a slice's files, or the
    record a commit holds). On a CPU the rows depend on it (kernels split their reductions by thread), so
    `verify` and a reproduction of a committed study run on it."""
    return {run["hardware"]["torch_threads"] for run in runs
            if run["cycles_done"] > run["first_cycle"] and run["hardware"]["device"] == "cpu"}


@dataclass
class FingerprintCheck:
    """A rerun's numerics fingerprint against the recorded runs of the slice it reruns (`verify` says it
    first): the CPU threads the rerun takes, the keys in which it differs (each with the slice's recorded
    values) and in words, and the keys the slice's record lacks (recorded before fingerprints)."""

    threads: int | None
    differ: dict[str, list]
    described: str
    unknown: list[str]

    @property
    def line(self) -> str:
        if self.differ:
            return f"fingerprint differs from the slice's in {self.described}: a difference in the rows is expected"
        if self.unknown:
            return f"fingerprint matches the slice's where it records one; it does not record its {', '.join(self.unknown)}"
        return "fingerprint matches the slice's (processor, instruction sets, torch build, device, precision, threads)"


def check_fingerprint(stored: SliceLayout, device: torch.device, precision: str) -> FingerprintCheck:
    """How a rerun of slice `stored` on `device` with `precision` compares with the runs that computed it. On a
    CPU the rerun takes the recorded thread count; a slice computed on several counts (a resumed slice)
    is refused: no single rerun reproduces it."""
    runs = computing_runs([stored])
    threads = recorded_cpu_threads(runs) if device.type == "cpu" else set()
    if len(threads) > 1:
        raise ParamsError("verify", f"{stored.path} was computed on {sorted(threads)} torch threads (a resumed slice):"
                                    " no single rerun reproduces it")
    run_on = threads.pop() if threads else None
    now = fingerprint(device, precision, run_on)
    recorded = [run_fingerprint(run) for run in runs]
    differ = fingerprint_differences(recorded, now)
    return FingerprintCheck(run_on, differ, describe_differences(differ, now, "the slice's"), unrecorded(recorded, now))


def study_provenance(slices: list[SliceLayout]) -> dict:
    """provenance.json of a study: every slice's runs, and the commits, fingerprints and weights they used
    (`mixed_commits` is true when the rows of one results.csv come from more than one commit)."""
    recorded = {folder.name: slice_runs(folder) for folder in slices if folder.provenance_file.is_file()}
    runs = [run for entries in recorded.values() for run in entries]
    commits = sorted({str(run["git"]["commit"]) for run in runs})
    weights = {json.dumps(run["weights"], sort_keys=True) for run in runs}
    computed = [run for run in runs if run["cycles_done"] > run["first_cycle"]]
    return {"commits": commits, "mixed_commits": len(commits) > 1,
            "dirty": any(run["git"]["dirty"] for run in runs),
            # the numerics the rows come from: more than one, and the methods may not share their cycle 0
            "fingerprints": distinct(run_fingerprint(run) for run in computed),
            "weights": [json.loads(w) for w in sorted(weights)], "slices": recorded}
