"""Provenance (provenance.py): the commit each run of a slice ran on, the sorter weights it read,
what dirty means."""
import json
import subprocess

import pytest

from helpers import interrupt_at_query
from l2ral_lib import provenance as provenance_module
from l2ral_lib.loop import run_study


def test_resume_on_another_commit_is_recorded_and_said(ci_params, tmp_path, monkeypatch, caplog):
    params = ci_params(strategies=["random"])
    monkeypatch.setattr(provenance_module, "git_commit", lambda: {"commit": "a" * 40, "dirty": False})
    restore = interrupt_at_query(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_study(params, "cpu", tmp_path, progress=False)
    restore()
    monkeypatch.setattr(provenance_module, "git_commit", lambda: {"commit": "b" * 40, "dirty": True})
    with caplog.at_level("WARNING", logger="l2ral_lib.provenance"):
        run_study(params, "cpu", tmp_path, progress=False)
    assert f"random-seed0 resumes on commit {'b' * 40}; earlier cycles ran on {'a' * 40}" in caplog.text
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["commits"] == ["a" * 40, "b" * 40] and provenance["mixed_commits"] and provenance["dirty"]
    runs = provenance["slices"]["random-seed0"]
    assert [(r["git"]["commit"][0], r["first_cycle"], r["cycles_done"]) for r in runs] == \
        [("a", 0, 1), ("b", 1, params.n_cycles)]


def test_l2r_records_the_hash_of_the_sorter_weights_it_used(ci_params, tmp_path):
    import hashlib

    from l2ral_lib.sorter import weights_path

    params = ci_params(strategies=["l2r"], max_labeled=30)
    run_study(params, "cpu", tmp_path, progress=False)
    (weights,) = json.loads((tmp_path / "provenance.json").read_text())["weights"]
    file = weights_path(params.batch_size, params.sorter_kind)
    record = json.loads(file.with_suffix(".json").read_text())  # how far it was trained
    assert weights == {"sorter": {"file": f"l2ral_lib/sorter_weights/{file.name}",
                                  "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                                  "epochs_trained": record["epochs_reached"], "epochs_target": record["epochs_target"],
                                  "weights_epoch": record["best"]["epoch"]}}


def git_repository(folder, files) -> str:
    """A git repository in `folder` with `files` (path -> text) committed; -> its HEAD."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    git("init", "-q")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return git("rev-parse", "HEAD").strip()


PYPROJECT = '[project]\nname = "l2ral"\n'


def test_dirty_means_code_changed_not_shipped_outputs(tmp_path, monkeypatch):
    """A rerun or render of a shipped study rewrites tracked files under outputs/: that is no dirty code."""
    git_repository(tmp_path, {"pyproject.toml": PYPROJECT, "l2ral_lib/loop.py": "first\n",
                              "outputs/study/results.csv": "first\n"})
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path)
    (tmp_path / "outputs/study/results.csv").write_text("rerun\n")
    assert provenance_module.git_commit()["dirty"] is False
    (tmp_path / "l2ral_lib/loop.py").write_text("changed\n")
    assert provenance_module.git_commit()["dirty"] is True


def test_commit_is_the_checkouts_own_never_an_enclosing_or_the_working_directorys(tmp_path, monkeypatch):
    """The commit is recorded where the code runs from the project's checkout, whatever repository the
    working directory is in; an installed copy (no pyproject.toml beside the package) inside another
    repository, or an unpacked source without .git, records none."""
    project = git_repository(tmp_path / "project", {"pyproject.toml": PYPROJECT, "l2ral_lib/loop.py": "code\n"})
    git_repository(tmp_path / "elsewhere", {"notes.txt": "another repository\n"})
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path / "project")
    assert provenance_module.git_commit() == {"commit": project, "dirty": False}
    # pip installed into a virtual environment that lies inside the user's own repository
    git_repository(tmp_path / "user", {"pyproject.toml": '[project]\nname = "theirs"\n',
                                       "venv/lib/site-packages/l2ral_lib/loop.py": "code\n"})
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path / "user" / "venv" / "lib" / "site-packages")
    assert provenance_module.git_commit() == {"commit": None, "dirty": None}
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path / "user")  # a checkout of another project
    assert provenance_module.git_commit() == {"commit": None, "dirty": None}
    unpacked = tmp_path / "user" / "l2ral-0.2.0"  # an sdist unpacked inside it: no .git of its own
    (unpacked / "l2ral_lib").mkdir(parents=True)
    (unpacked / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", unpacked)
    assert provenance_module.git_commit() == {"commit": None, "dirty": None}


def test_a_run_records_the_package_version():
    import torch

    import l2ral_lib

    versions = provenance_module.environment(torch.device("cpu"), "float32")["versions"]
    assert versions["l2ral"] == l2ral_lib.__version__ == "0.2.0"
