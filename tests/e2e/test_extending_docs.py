"""docs/extending.md's commands run as written: every bash block in order, in one empty folder, each exits 0,
and prints what the page shows below it -- every line without a measured number (a decimal, a clock time),
in order, so that the page cannot go stale."""
import os
import re
import subprocess
import sys

import pytest

from helpers import ROOT

PAGE = ROOT / "docs" / "extending.md"
MEASURED = re.compile(r"\d\.\d|\d\d:\d\d:\d\d")


def examples() -> list[tuple[str, str]]:
    """(commands, what the page shows they print) of each bash block and the text block after it."""
    return re.findall(r"```bash\n(.*?)```\n\n```text\n(.*?)```", PAGE.read_text(), flags=re.S)


def stable(printed: str) -> list[str]:
    """The lines that repeat on any machine, spaces normalised (a table's columns widen with its numbers)."""
    return [" ".join(line.split()) for line in printed.splitlines() if line.strip() and not MEASURED.search(line)]


def test_the_page_has_its_examples():
    """Each of the six examples found, each with lines to compare: the run below cannot pass by finding none."""
    shown = examples()
    assert len(shown) == 6 and all(stable(printed) for _, printed in shown)
    assert "python -m l2ral_lib query" in shown[-2][0] and "model=mymodels:small_cnn" in shown[-3][0]
    assert "ratio-of-confidence" in shown[-1][0] and "plugins:" in shown[-1][1]


@pytest.mark.slow
def test_every_documented_command_prints_what_the_page_shows(tmp_path):
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for commands, shown in examples():
        run = subprocess.run(["bash", "-e", "-c", commands], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=600)
        assert run.returncode == 0, run.stdout
        assert stable(run.stdout) == stable(shown), run.stdout
    # the round trip's second picks: ten images not labeled before
    labeled = {line.split(",")[0] for line in (tmp_path / "labels.csv").read_text().splitlines()[1:]}
    picked = [line.split(",")[0] for line in (tmp_path / "next.csv").read_text().splitlines()[1:]]
    assert len(labeled) == 25 and len(set(picked)) == 10 and not labeled & set(picked)
