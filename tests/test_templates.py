"""`l2ral templates DIR` (templates.py): every params profile and notebook copied out, byte for byte; a
differing file in DIR stops it before anything is written. From an installed wheel: test_packaging.py."""
import contextlib
import io

from helpers import ROOT
from l2ral_lib.__main__ import main


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def tree(folder):
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def shipped():
    return {f"{folder}/{f.name}": f.read_bytes() for folder, pattern in (("params", "*.yaml"), ("notebooks", "*.ipynb"))
            for f in sorted((ROOT / folder).glob(pattern))}


def test_templates_copies_every_profile_and_notebook(tmp_path):
    code, out, _ = cli("templates", str(tmp_path / "mine"))
    assert code == 0 and tree(tmp_path / "mine") == shipped()
    assert len(shipped()) > 20 and "params/cifar10-paper.yaml" in shipped() and "notebooks/cifar10.ipynb" in shipped()
    n_params = len(list((ROOT / "params").glob("*.yaml")))
    assert out == (f"{tmp_path / 'mine'}: {n_params} params profiles in params/, {len(shipped()) - n_params} notebooks"
                   f" in notebooks/; next: cd {tmp_path / 'mine'} && python -m l2ral_lib check params/cifar10-smoke.yaml\n")
    assert cli("templates", str(tmp_path / "mine"))[0] == 0  # again: the same files are no conflict


def test_templates_refuses_a_file_that_differs_and_writes_nothing_until_forced(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "cifar10-ci.yaml").write_text("mine\n")
    (tmp_path / "params" / "cifar10-smoke.yaml").write_text("mine too\n")
    (tmp_path / "params" / "own.yaml").write_text("kept\n")
    code, out, err = cli("templates", str(tmp_path))
    assert code == 2 and out == ""
    assert err == (f"error: params: templates: {tmp_path / 'params' / 'cifar10-ci.yaml'} exists and differs (and 1 more);"
                   " pass --force to overwrite, or choose another folder\n")
    assert tree(tmp_path) == {"params/cifar10-ci.yaml": b"mine\n", "params/cifar10-smoke.yaml": b"mine too\n",
                              "params/own.yaml": b"kept\n"}
    assert cli("templates", str(tmp_path), "--force")[0] == 0
    assert tree(tmp_path) == {**shipped(), "params/own.yaml": b"kept\n"}
