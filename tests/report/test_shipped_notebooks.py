"""Every executed notebook under outputs/, as a reader's browser shows it (nbconvert's HTML): no traceback, no
table cut by pandas ("..." cells or a "rows x columns" footer of a cut frame), no internal issue number."""
import re

import nbformat
import pytest
from nbconvert import HTMLExporter

from helpers import ROOT

SHIPPED = sorted((ROOT / "outputs").glob("*/*.ipynb"))
ISSUE_NUMBER = re.compile(r"\b[Ii]ssues? \d+\b|\(#\d+\)|\(issue \d+")
CUT_CELL = re.compile(r"<td>\.\.\.</td>|<th>\.\.\.</th>")


def problems(notebook) -> list[str]:
    """What a reader must not meet in a rendered notebook, one line each."""
    found = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(notebook.cells) if c.cell_type == "code"
             for o in c.outputs if o.output_type == "error"]
    html, _ = HTMLExporter().from_notebook_node(notebook)
    found += [f"a table cut to '...' near {html[m.start() - 120:m.start()]!r}" for m in CUT_CELL.finditer(html)]
    found += [f"internal issue number {m.group(0)!r}" for m in ISSUE_NUMBER.finditer(html)]
    return found


def test_the_checks_catch_what_they_look_for():
    """A traceback, a cut table and an issue number in a made-up notebook are each reported."""
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("error", ename="KeyError", evalue="'l2r'", traceback=[]),
        nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>...</td></tr></table>"}),
        nbformat.v4.new_output("stream", name="stdout", text="the oracle of issue 26\n")])])
    found = problems(bad)
    assert len(found) == 3 and found[0] == "cell 0: KeyError: 'l2r'", found
    assert problems(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# fine")])) == []


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_shipped_notebook_reads_clean(path):
    assert problems(nbformat.read(path, as_version=4)) == []
