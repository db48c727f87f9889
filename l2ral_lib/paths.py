"""Where things lie: the project root, the data root and the pretrained backbone weights."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ParamsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

PRETRAINED_HINT = ("get torchvision's ImageNet ResNet-50 weights on a machine with internet:"
                   " `python -c \"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V1')\"` writes"
                   " ~/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth; copy it to the path in `pretrained`"
                   " (or set `pretrained: null` for random initialisation)")


def enter_project_root() -> Path:
    """Make the project root the working directory, as every notebook expects (papermill passes --cwd;
    Jupyter opened on notebooks/ starts one level down), so relative paths (params/, outputs/) hold."""
    os.chdir(PROJECT_ROOT)
    return PROJECT_ROOT


def data_root(params, dataset: str) -> Path:
    """`params.data_root`, else $L2RAL_DATA, else data/ in the project; then the dataset's folder."""
    root = params.data_root or os.environ.get("L2RAL_DATA") or PROJECT_ROOT / "data"
    return Path(root).expanduser() / dataset


def pretrained_file(path: str) -> Path:
    """The weights file `params.pretrained` names (relative paths: to the working directory, else to
    the project); a missing file is a ParamsError saying how to get it."""
    file = Path(path).expanduser()
    if not file.is_absolute() and not file.is_file():
        file = PROJECT_ROOT / file
    if not file.is_file():
        raise ParamsError("pretrained", f"weights not found at {file}; {PRETRAINED_HINT}")
    return file
