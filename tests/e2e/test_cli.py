"""The command line runs a study without Jupyter; --jobs splits slices over processes and merges."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from helpers import ROOT


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "l2ral_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, **kwargs)


def test_jobs_mode_equals_single_process(tmp_path, tiny_data_root):
    common = ["run", "params/cifar10-ci.yaml", "--device", "cpu", "--no-progress", "--set", f"data_root={tiny_data_root}",
              "--set", "strategies=[random, entropy, coreset]"]
    single = cli(*common, "--out", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr
    jobs = cli(*common, "--out", str(tmp_path / "jobs"), "--jobs", "3")
    assert jobs.returncode == 0, jobs.stderr
    # one progress line per (method, seed, cycle) on stderr, also from the workers of --jobs
    for run in (single, jobs):
        assert sum(" cycles done, elapsed " in line for line in run.stderr.splitlines()) == 3 * 3
    measured = lambda t: t[~t.metric.str.startswith("time_")].reset_index(drop=True)  # noqa: E731
    a, b = (pd.read_csv(tmp_path / name / "results.csv") for name in ("single", "jobs"))
    pd.testing.assert_frame_equal(measured(a), measured(b))
    assert sorted(p.name for p in (tmp_path / "jobs" / "slices").iterdir()) == \
        ["coreset-seed0", "entropy-seed0", "random-seed0"]
    # every worker's slices in the study's provenance, not only the last writer's
    provenance = json.loads((tmp_path / "jobs" / "provenance.json").read_text())
    assert sorted(provenance["slices"]) == ["coreset-seed0", "entropy-seed0", "random-seed0"]


def test_invalid_params_exit_2_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {ROOT / 'params' / 'cifar10-ci.yaml'}\nbatch_sise: 4\n")
    result = cli("run", str(bad), "--device", "cpu")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params: batch_sise: unknown key (did you mean 'batch_size'?);" \
                                    " see l2ral_lib/config.py for the known keys"


def test_only_must_name_a_method_of_the_study(tmp_path):
    result = cli("run", "params/cifar10-ci.yaml", "--only", "vaal2:0", "--out", str(tmp_path))
    assert result.returncode == 2 and "params: --only:" in result.stderr


def test_only_must_name_a_seed_the_plan_gives_its_method(tmp_path):
    """strategy_seeds caps l2r at the first seed: --only l2r:1 would compute a slice the reports leave out."""
    result = cli("run", "params/cifar10-ci.yaml", "--set", "strategy_seeds={l2r: 1}", "--only", "l2r:1",
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "params: --only: l2r:1 lie outside" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def main(*args):
    """The CLI in this process: (exit status, stdout, stderr lines)."""
    import contextlib
    import io

    from l2ral_lib.__main__ import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(args))
    return code, out.getvalue(), err.getvalue().splitlines()


def test_check_finds_missing_pretrained_weights_before_loading_data(tmp_path, monkeypatch):
    import l2ral_lib.checks as checks

    monkeypatch.setattr(checks, "load_dataset", lambda *a: pytest.fail("data loaded before the weights were checked"))
    missing = tmp_path / "resnet50-0676ba61.pth"
    code, _, err = main("check", "params/mpii-ci.yaml", "--set", f"pretrained={missing}", "--set", "model_width=64",
                        "--set", f"data_root={tmp_path}")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: params: pretrained: weights not found at {missing}; get torchvision's ImageNet")


def test_check_finds_vaal_input_shape(tmp_path):
    code, _, err = main("check", "params/shanghaitech-ci.yaml", "--set", "vaal_image_size=null",
                        "--set", f"data_root={tmp_path}")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: params: vaal_image_size: VAAL's VAE needs square inputs") and "(96, 128)" in err[0]
    code, out, _ = main("check", "params/shanghaitech-ci.yaml", "--set", f"data_root={tmp_path}")
    assert code == 0 and "ok" in out


def test_check_and_run_find_a_pool_too_small_and_write_nothing(tmp_path, tiny_data_root):
    too_big = ["--set", f"data_root={tiny_data_root}", "--set", "max_labeled=200"]  # the tiny tree has 120 images
    code, _, err = main("check", "params/cifar10-ci.yaml", *too_big)
    assert code == 2 and err == ["error: params: max_labeled: (200) is larger than the pool (120 samples of cifar10);"
                                 " lower max_labeled"]
    out = tmp_path / "study"
    code, _, err = main("run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out), *too_big)
    assert code == 2 and not out.exists()
    # the corrected rerun into the same folder is not refused as "a study with other params"
    code, _, err = main("run", "params/cifar10-ci.yaml", "--device", "cpu", "--out", str(out), "--no-progress",
                        "--set", f"data_root={tiny_data_root}", "--set", "strategies=[random]")
    assert code == 0, err


def test_list_shows_every_strategy_dataset_model_and_key():
    from l2ral_lib.config import describe_keys
    from l2ral_lib.data import list_datasets
    from l2ral_lib.models import list_models
    from l2ral_lib.strategies import list_strategies

    code, out, _ = main("list")
    assert code == 0
    for name in list_strategies() + list_datasets() + list_models():
        assert name in out
    for key in describe_keys():
        assert key["meaning"], f"params key {key['key']} has no comment in config.Params"
        assert f"  {key['key']}: {key['type']} = " in out
    assert "  batch_size: int = 64  also the ranking-loss list length" in out


def test_help_describes_every_command_with_examples():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "check", "merge", "verify", "compare", "list", "sorter", "templates"):
        assert f"python -m l2ral_lib {command}" in result.stdout
    assert "exit status 2" in result.stdout


def test_every_command_is_a_function_of_the_table():
    """main looks the command up in COMMANDS; `sorter` alone parses its own arguments."""
    import argparse

    from l2ral_lib.__main__ import COMMANDS, _parser

    (commands,) = [action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)]
    assert set(commands.choices) == {*COMMANDS, "sorter"}


def test_readme_results_refuses_to_write_into_an_installed_copy(monkeypatch):
    """Installed, the project root would be site-packages: README.md is the checkout's only."""
    import l2ral_lib.__main__ as cli_module

    monkeypatch.setattr(cli_module, "is_checkout", lambda: False)
    monkeypatch.setattr(cli_module, "PROJECT_ROOT", None)  # any use of it would fail the test
    code, out, err = main("readme-results")
    assert (code, out) == (2, "") and err == ["error: params: readme-results: rewrites the project's README.md and"
                                              " docs/*.md: run it in a checkout of the project, not an installed copy"]


def test_package_exposes_version_and_public_api():
    import importlib.metadata

    import l2ral_lib

    assert l2ral_lib.__version__ == importlib.metadata.version("l2ral")
    for name in l2ral_lib.__all__[1:]:
        assert getattr(l2ral_lib, name) is not None
    assert l2ral_lib.get_strategy("l2r").name == "l2r"
