"""Where things lie: the project root, the data root and the pretrained backbone weights.

The code runs either from a checkout of the project (a clone or an unpacked source: params/, notebooks/,
outputs/ and data/ beside the package) or installed (`pip install`: the package alone in site-packages,
`l2ral templates DIR` for the params and notebooks). Installed, relative paths are the working directory's,
never site-packages'."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ParamsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout; installed, the site-packages folder

PRETRAINED_HINT = ("get torchvision's ImageNet ResNet-50 weights on a machine with internet:"
                   " `python -c \"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V1')\"` writes"
                   " ~/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth; copy it to the path in `pretrained`"
                   " (or set `pretrained: null` for random initialisation)")


def is_checkout(root: Path = PROJECT_ROOT) -> bool:
    """Whether `root`, the folder holding this l2ral_lib, is the project's own folder: its pyproject.toml
    names the l2ral distribution (site-packages has none, and another project's names another)."""
    pyproject = root / "pyproject.toml"
    return pyproject.is_file() and re.search(r'^name = "l2ral"$', pyproject.read_text(), re.MULTILINE) is not None


def project_root() -> Path:
    """Where params/, outputs/ and data/ are read relative to: the checkout; installed, the working directory,
    or the folder above it where it is the notebooks/ folder of `l2ral templates` (Jupyter started there)."""
    if is_checkout():
        return PROJECT_ROOT
    here = Path.cwd()
    return here.parent if here.name == "notebooks" and (here.parent / "params").is_dir() else here


def enter_project_root() -> Path:
    """Make the project root the working directory, as every notebook expects (papermill passes --cwd;
    Jupyter opened on notebooks/ starts one level down), so relative paths (params/, outputs/) hold."""
    root = project_root()
    os.chdir(root)
    return root


def data_root(params, dataset: str) -> Path:
    """`params.data_root`, else $L2RAL_DATA, else data/ in the project root; then the dataset's folder."""
    root = params.data_root or os.environ.get("L2RAL_DATA") or project_root() / "data"
    return Path(root).expanduser() / dataset


def pretrained_file(path: str) -> Path:
    """The weights file `params.pretrained` names (relative paths: to the working directory, else to
    the project root); a missing file is a ParamsError saying how to get it."""
    file = Path(path).expanduser()
    if not file.is_absolute() and not file.is_file():
        file = project_root() / file
    if not file.is_file():
        raise ParamsError("pretrained", f"weights not found at {file}; {PRETRAINED_HINT}")
    return file
