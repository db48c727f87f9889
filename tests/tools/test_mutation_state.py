"""tools/mutation/resume_state.py: mutmut's verdicts saved in one file beside the code and restored into a
fresh checkout, refused when a mutated source changed, and the pending mutants of a scope."""
import gzip
import json
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "tools" / "mutation"))
import resume_state as state  # noqa: E402

PYPROJECT = '[tool.mutmut]\nonly_mutate = ["pkg/a.py", "pkg/sub/*"]\n'


def tree(root, verdicts):
    """A checkout with pyproject, three sources (two mutated) and a mutants/ folder holding `verdicts`
    (file -> {mutant: exit code}) and mutmut's stats."""
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for name in ("pkg/a.py", "pkg/sub/b.py", "pkg/c.py"):
        (root / name).write_text(f"# {name}\n")
    for name, codes in verdicts.items():
        meta = root / "mutants" / f"{name}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))
    if verdicts:
        (root / "mutants" / "mutmut-stats.json").write_text('{"tests_by_mangled_function_name": {}}')
    return root


VERDICTS = {"pkg/a.py": {"pkg.a.x_f__mutmut_1": 1, "pkg.a.x_f__mutmut_2": None, "pkg.a.x_g__mutmut_1": None},
            "pkg/sub/b.py": {"pkg.sub.b.x_h__mutmut_1": 0, "pkg.sub.b.x_h__mutmut_2": None}}


def test_save_then_restore_into_a_fresh_checkout_gives_the_same_files(tmp_path):
    ran, fresh, kept = tree(tmp_path / "ran", VERDICTS), tree(tmp_path / "fresh", {}), tmp_path / "kept.json.gz"
    state.main(["save", str(ran), "--state", str(kept)])
    assert json.loads(gzip.decompress(kept.read_bytes()))["sources"].keys() == {"pkg/a.py", "pkg/sub/b.py"}
    state.main(["restore", str(fresh), "--state", str(kept)])
    assert state.verdicts(fresh / "mutants") == state.verdicts(ran / "mutants")
    for name in state.kept_files(ran / "mutants"):
        assert (fresh / "mutants" / name).read_bytes() == (ran / "mutants" / name).read_bytes(), name
    assert state.kept_files(fresh / "mutants") == state.kept_files(ran / "mutants")


def test_a_second_save_replaces_the_first_and_a_restore_the_earlier_verdicts(tmp_path):
    kept, fresh = tmp_path / "kept.json.gz", tree(tmp_path / "fresh", VERDICTS)
    state.main(["save", str(tree(tmp_path / "one", VERDICTS)), "--state", str(kept)])
    state.main(["save", str(tree(tmp_path / "two", {"pkg/a.py": {"pkg.a.x_f__mutmut_1": 0}})), "--state", str(kept)])
    state.main(["restore", str(fresh), "--state", str(kept)])
    assert state.verdicts(fresh / "mutants") == {"pkg.a.x_f__mutmut_1": 0}  # b.py's earlier verdicts are gone


def test_the_same_verdicts_save_to_the_same_bytes(tmp_path):
    """The file is tracked: saving a run again changes it only where a verdict changed."""
    ran = tree(tmp_path / "ran", VERDICTS)
    state.main(["save", str(ran), "--state", str(tmp_path / "first.json.gz")])
    state.main(["save", str(ran), "--state", str(tmp_path / "second.json.gz")])
    assert (tmp_path / "first.json.gz").read_bytes() == (tmp_path / "second.json.gz").read_bytes()


def test_restore_refuses_verdicts_of_another_source(tmp_path):
    kept = tmp_path / "kept.json.gz"
    state.main(["save", str(tree(tmp_path / "ran", VERDICTS)), "--state", str(kept)])
    fresh = tree(tmp_path / "fresh", {})
    (fresh / "pkg" / "c.py").write_text("# not mutated: may change\n")
    state.main(["restore", str(fresh), "--state", str(kept)])
    (fresh / "pkg" / "sub" / "b.py").write_text("# changed\n")
    with pytest.raises(SystemExit, match="pkg/sub/b.py is not the file the saved verdicts were reached on"):
        state.main(["restore", str(fresh), "--state", str(kept)])
    with pytest.raises(SystemExit, match="no saved mutation run to resume"):
        state.main(["restore", str(fresh), "--state", str(tmp_path / "nothing.json.gz")])


def test_pending_is_the_in_scope_mutants_without_a_verdict(tmp_path, capsys):
    mutants = tree(tmp_path, VERDICTS) / "mutants"
    assert state.pending(mutants, ["*"]) == ["pkg.a.x_f__mutmut_2", "pkg.a.x_g__mutmut_1", "pkg.sub.b.x_h__mutmut_2"]
    assert state.pending(mutants, ["pkg.a.x_f*", "pkg.sub.*"]) == ["pkg.a.x_f__mutmut_2", "pkg.sub.b.x_h__mutmut_2"]
    state.main(["pending", str(tmp_path), "--scope", "pkg.a.*"])
    assert capsys.readouterr().out.split() == ["pkg.a.x_f__mutmut_2", "pkg.a.x_g__mutmut_1"]


def test_with_nothing_pending_or_one_gives_the_scopes_first_mutant(tmp_path):
    """A resume with every verdict in still runs mutmut once (it rebuilds the mutated sources the report reads)."""
    mutants = tree(tmp_path, {"pkg/a.py": {"pkg.a.x_f__mutmut_2": 0, "pkg.a.x_f__mutmut_1": 1},
                              "pkg/sub/b.py": {"pkg.sub.b.x_h__mutmut_1": 0}}) / "mutants"
    assert state.pending(mutants, ["pkg.a.*"]) == []
    assert state.pending(mutants, ["pkg.a.*"], or_one=True) == ["pkg.a.x_f__mutmut_1"]
    assert state.pending(mutants, ["*"], or_one=True) == ["pkg.a.x_f__mutmut_1"]
    assert state.pending(mutants, ["pkg.b.*"], or_one=True) == []


def test_the_shipped_verdicts_are_mutmuts_files_in_one_data_file():
    """What the last `make mutation` saved: mutmut's files under their mutants/ paths, inside one file."""
    saved = json.loads(gzip.decompress(state.STATE.read_bytes()))
    assert "mutmut-stats.json" in saved["files"] and saved["sources"]
    assert all(name.endswith(".meta") for name in saved["files"] if name != "mutmut-stats.json")
