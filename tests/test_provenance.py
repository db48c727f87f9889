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


def test_dirty_means_code_changed_not_shipped_outputs(tmp_path, monkeypatch):
    """A rerun or render of a shipped study rewrites tracked files under outputs/: that is no dirty code."""
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    for name in ("l2ral_lib/loop.py", "outputs/study/results.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("first\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(provenance_module, "PROJECT_ROOT", tmp_path)
    (tmp_path / "outputs/study/results.csv").write_text("rerun\n")
    assert provenance_module.git_commit()["dirty"] is False
    (tmp_path / "l2ral_lib/loop.py").write_text("changed\n")
    assert provenance_module.git_commit()["dirty"] is True
