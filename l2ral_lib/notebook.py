"""What every experiment notebook does before and after its study, kept out of the notebooks so
the four of them stay a few thin cells each."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .config import load_params
from .loop import run_study
from .paths import PROJECT_ROOT


def open_params(params_path: str, data_root: str = "", out_dir: str = ""):
    """Run from the project root (papermill passes --cwd; Jupyter starts in notebooks/), load the
    params (a non-empty `data_root` overrides the file's) and choose the output folder."""
    os.chdir(PROJECT_ROOT)
    params = load_params(params_path, {"data_root": data_root} if data_root else None)
    return params, Path(out_dir or Path("outputs") / params.experiment)


def describe(params) -> pd.DataFrame:
    """The resolved params as a two-column table for the notebook."""
    return pd.DataFrame(sorted(params.to_dict().items()), columns=["key", "value"]).set_index("key")


def run(params_path: str, params, device: str, out_dir: Path, jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Run or resume the study; with jobs > 1 through the CLI's process pool (results merged)."""
    if jobs <= 1:
        return run_study(params, device, out_dir, progress=progress)
    command = [sys.executable, "-m", "l2ral_lib", "run", params_path, "--device", device, "--out", str(out_dir),
               "--jobs", str(jobs)]
    if params.data_root:
        command += ["--set", f"data_root={params.data_root}"]
    subprocess.run(command, check=True)
    return pd.read_csv(out_dir / "results.csv")
