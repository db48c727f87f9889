"""`l2ral templates DIR`: the params profiles and notebooks copied into a folder of one's own, where an
installed l2ral runs them (`cd DIR && l2ral run params/cifar10-smoke.yaml`; the notebooks run there too,
paths.project_root).

Their one source is the checkout's params/ and notebooks/. The wheel carries them as package data,
l2ral_lib/templates/{params,notebooks} (pyproject.toml maps the two folders there); a checkout, where that
folder does not exist, is read where the files lie."""
from __future__ import annotations

import importlib.resources
from fnmatch import fnmatch
from pathlib import Path

from .errors import ParamsError
from .paths import PROJECT_ROOT, is_checkout

PATTERNS = {"params": "*.yaml", "notebooks": "*.ipynb"}


def template_files() -> dict[str, list]:
    """folder -> its template files (Path or importlib Traversable), by name."""
    source = PROJECT_ROOT if is_checkout() else importlib.resources.files(__package__) / "templates"
    return {folder: sorted((f for f in (source / folder).iterdir() if fnmatch(f.name, pattern)), key=lambda f: f.name)
            for folder, pattern in PATTERNS.items()}


def copy_templates(target: str | Path, force: bool = False) -> dict[str, int]:
    """Copy every template into `target`/params and `target`/notebooks. A file there that differs is left
    alone, and nothing is written, unless `force`. -> folder -> files copied."""
    target, files = Path(target), template_files()
    differing = [target / folder / f.name for folder, found in files.items() for f in found
                 if (target / folder / f.name).exists() and (target / folder / f.name).read_bytes() != f.read_bytes()]
    if differing and not force:
        more = f" (and {len(differing) - 1} more)" if len(differing) > 1 else ""
        raise ParamsError("templates", f"{differing[0]} exists and differs{more}; pass --force to overwrite, or"
                                       " choose another folder")
    for folder, found in files.items():
        (target / folder).mkdir(parents=True, exist_ok=True)
        for f in found:
            (target / folder / f.name).write_bytes(f.read_bytes())
    return {folder: len(found) for folder, found in files.items()}
