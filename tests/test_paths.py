"""Where relative paths and the default data folder lie (paths.py): in the checkout the project's folder,
as the Makefile and the notebooks expect; installed, the working directory, never site-packages."""
import os
from types import SimpleNamespace

import pytest

from helpers import ROOT
from l2ral_lib import paths

UNSET = SimpleNamespace(data_root=None)


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """This code as an installed copy, working in tmp_path."""
    monkeypatch.setattr(paths, "is_checkout", lambda root=paths.PROJECT_ROOT: False)
    monkeypatch.delenv("L2RAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_this_checkout_is_one_and_site_packages_is_not(tmp_path):
    assert paths.PROJECT_ROOT == ROOT and paths.is_checkout()
    (tmp_path / "l2ral_lib").mkdir()
    assert not paths.is_checkout(tmp_path)  # site-packages: no pyproject.toml
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "l2ral-plugin-example"\n')
    assert not paths.is_checkout(tmp_path)  # another project's folder


def test_checkout_reads_data_and_relative_paths_from_the_project(monkeypatch, tmp_path):
    monkeypatch.delenv("L2RAL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.data_root(UNSET, "cifar10") == ROOT / "data" / "cifar10"
    assert paths.project_root() == ROOT
    monkeypatch.setenv("L2RAL_DATA", str(tmp_path / "elsewhere"))
    assert paths.data_root(UNSET, "cifar10") == tmp_path / "elsewhere" / "cifar10"
    assert paths.data_root(SimpleNamespace(data_root="~/d"), "mpii") == paths.Path("~/d").expanduser() / "mpii"


def test_installed_default_data_folder_is_the_working_directorys(installed, monkeypatch):
    assert paths.data_root(UNSET, "cifar10") == installed / "data" / "cifar10"
    monkeypatch.setenv("L2RAL_DATA", str(installed / "shared"))
    assert paths.data_root(UNSET, "cifar10") == installed / "shared" / "cifar10"


def test_installed_notebooks_run_from_the_templates_folder(installed):
    """Jupyter opened on the notebooks/ of `l2ral templates DIR` starts there; the notebook's params/ and
    outputs/ are DIR's. Any other working directory is the root itself."""
    (installed / "params").mkdir()
    (installed / "notebooks").mkdir()
    os.chdir(installed / "notebooks")
    assert paths.enter_project_root() == installed and paths.Path.cwd() == installed
    assert paths.enter_project_root() == installed  # and stays there
    os.chdir(installed / "params")
    assert paths.enter_project_root() == installed / "params"


def test_installed_pretrained_path_is_relative_to_the_working_directory(installed):
    with pytest.raises(paths.ParamsError) as error:
        paths.pretrained_file("data/pretrained/resnet50.pth")
    assert str(error.value).startswith(f"params: pretrained: weights not found at {installed}/data/pretrained/resnet50.pth;")
    (installed / "w.pth").write_bytes(b"")
    assert paths.pretrained_file("w.pth").resolve() == installed / "w.pth"
