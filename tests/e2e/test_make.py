"""The Makefile as a reader meets it: `make help` describes every target and lists every profile; an unknown
profile is refused with the ones that exist, before anything runs."""
import re
import subprocess

from helpers import ROOT


def make(*args):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_help_describes_every_target_and_lists_every_profile():
    text = make("help").stdout
    targets = re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M)
    for target in set(targets) - {"ranking-bench"}:  # the deprecated alias of loss-ranking
        line = next((l for l in text.splitlines() if l.split()[:1] == [target]), None)
        assert line and len(line.split()) > 2, f"make help does not describe {target}"
    for params in (ROOT / "params").glob("*.yaml"):
        experiment, profile = params.stem.split("-", 1)
        row = next(l for l in text.splitlines() if l.split()[:1] == [experiment])
        assert profile in row.split(), params.name


def test_an_unknown_profile_lists_the_profiles_and_runs_nothing(tmp_path):
    done = make("cifar10", "PROFILE=nope", f"OUTPUTS={tmp_path}")
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "*** no profile 'nope' for cifar10 (params/cifar10-nope.yaml); profiles: " in line
    assert {"smoke", "budget", "paper", "ablations", "ci"} <= set(line.split("profiles: ")[1].split(".")[0].split())
    assert list(tmp_path.iterdir()) == []
