"""The package as a user installs it: a wheel built from the checkout, installed (not editable) into a fresh
virtual environment and run from a folder outside the checkout -- the console script, the package data
(sorter weights and records, the params and notebook templates; no training checkpoints), and the paths and
provenance of an installed copy."""
import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT

# what pyproject.toml builds the wheel from; copied, so that the build leaves nothing in the checkout
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "l2ral_lib", "params", "notebooks")


def run(*command, **kwargs):
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    (tmp / "src").mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, tmp / "src" / name)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", tmp / "dist", tmp / "src")
    (found,) = (tmp / "dist").glob("l2ral-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment holding the wheel's l2ral alone. Its dependencies (torch and the rest) come
    from this interpreter's site-packages, listed in a .pth file of the fresh one: such paths come after the
    environment's own site-packages, so l2ral_lib is the wheel's copy even where an l2ral is installed here
    too (PYTHONPATH would come before it). pip runs from here (--python): the fresh environment has none."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", folder)
    run(sys.executable, "-m", "pip", "--python", folder / "bin" / "python", "install", "-q", "--no-deps", "--no-index",
        wheel)
    purelib = run(folder / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    (Path(purelib) / "dependencies-from-the-test.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return folder


@pytest.fixture
def outside(tmp_path) -> dict:
    """A working directory outside the checkout, inside a git repository of its own (whose commit an
    installed l2ral must not record), and the environment to run there."""
    (tmp_path / "notes.txt").write_text("the user's own project\n")
    for git in (["init", "-q"], ["add", "notes.txt"], ["-c", "user.name=u", "-c", "user.email=u@u", "commit", "-qm", "own"]):
        run("git", "-C", tmp_path, *git)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "L2RAL_DATA")}
    return {"cwd": tmp_path, "env": env}


@pytest.mark.slow
def test_wheel_holds_the_package_its_data_and_no_training_checkpoint(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in names if name.endswith(".ckpt")]
    assert list((ROOT / "l2ral_lib" / "sorter_weights").glob("*.ckpt"))  # the checkout has them
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "l2ral_lib").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set()  # a sub-package missing from pyproject.toml's list fails here
    weights = {str(p.relative_to(ROOT)) for p in (ROOT / "l2ral_lib" / "sorter_weights").glob("*") if p.suffix != ".ckpt"}
    assert weights and weights <= names
    templates = {f"l2ral_lib/templates/{p.parent.name}/{p.name}" for p in
                 [*(ROOT / "params").glob("*.yaml"), *(ROOT / "notebooks").glob("*.ipynb")]}
    assert {name for name in names if name.startswith("l2ral_lib/templates/")} == templates
    info = f"l2ral-{wheel.name.split('-')[1]}.dist-info"
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Author: the l2ral developers" in metadata
    assert f"{info}/licenses/LICENSE" in names
    assert "Requires-Dist: submitit>=1.5" in metadata and "Requires-Dist: diffsort>=0.2" in metadata
    assert "[console_scripts]\nl2ral = l2ral_lib.__main__:main" in zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()


@pytest.mark.slow
def test_installed_console_script_runs_outside_the_checkout(venv, outside):
    l2ral = venv / "bin" / "l2ral"
    usage = run(l2ral, "--help", **outside)
    assert usage.startswith("usage: l2ral [-h] COMMAND ...") and "templates" in usage and "exit status 2" in usage
    listing = run(l2ral, "list", **outside).splitlines()
    assert listing[0].startswith("strategies: ") and {"random", "l2r", "ll4al"} <= set(listing[0][12:].split(", "))
    assert listing[1] == ("datasets:   celeba, cifar10, image-csv, image-folder, mpii, mpii-generated, shanghaitech,"
                          " shanghaitech-generated")
    assert any(line.startswith("  batch_size: int = 64  also the ranking-loss list length") for line in listing)


@pytest.mark.slow
def test_installed_copy_reads_its_data_and_writes_its_paths_outside_site_packages(venv, outside):
    cwd = outside["cwd"]
    shown = json.loads(run(venv / "bin" / "python", "-c", """if True:
        import json, importlib.metadata, torch
        import l2ral_lib
        from l2ral_lib import paths, provenance
        from l2ral_lib.sorter import load_sorter
        load_sorter(4)  # a shipped sorter, from the package data
        print(json.dumps({"file": l2ral_lib.__file__, "version": importlib.metadata.version("l2ral"),
                          "checkout": paths.is_checkout(), "data": str(paths.data_root(type("P", (), {"data_root": None}), "cifar10")),
                          "environment": provenance.environment(torch.device("cpu"), "float32")}))""", **outside))
    assert Path(shown["file"]).is_relative_to(venv) and not shown["checkout"]
    assert shown["version"] == shown["environment"]["versions"]["l2ral"]
    assert shown["data"] == str(cwd / "data" / "cifar10")
    assert shown["environment"]["git"] == {"commit": None, "dirty": None}  # not the commit of the cwd's repository
    copied = run(venv / "bin" / "l2ral", "templates", "mine", **outside)
    assert copied.startswith("mine: ") and copied.endswith("next: cd mine && l2ral check params/cifar10-smoke.yaml\n")
    for folder, pattern in (("params", "*.yaml"), ("notebooks", "*.ipynb")):
        shipped = {p.name: p.read_bytes() for p in (ROOT / folder).glob(pattern)}
        assert {p.name: p.read_bytes() for p in (cwd / "mine" / folder).iterdir()} == shipped
