"""README.md's Results tables, generated from the committed studies (`make readme-results`; the test
of README checks they agree): the one place the README's numbers come from."""
from __future__ import annotations

import pandas as pd

from .labels import metric_label
from .summary import StudyResults, overview, studies_table

README_START = "<!-- results:start: generated from outputs/*/results.csv by `make readme-results`; do not edit -->"
README_END = "<!-- results:end -->"


def markdown(table: pd.DataFrame) -> str:
    """A DataFrame (index included) as a GitHub markdown table."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, [index, *row])) + " |" for index, row in zip(table.index, table.values)]
    return "\n".join(lines)


def results_markdown(studies: list[StudyResults]) -> str:
    """Per study: its finished state, and final metric, AUBC (mean, 95 % interval, seeds), rank and the
    paper's number per method: the README's Results tables, from the committed results alone."""
    parts = []
    for s in studies:
        table = overview([s])
        table.columns = [column for _, column in table.columns]
        finished = studies_table([s]).finished.item()
        parts.append(f"**{s.name}** ({metric_label(s.metric)}; "
                     f"{len(s.grid.seeds)} seeds; finished: {finished}; "
                     f"[notebook](outputs/{s.name}/{s.name.split('-')[0]}.ipynb))\n\n{markdown(table)}")
    return "\n\n".join(parts)


def rendered_readme(text: str, studies: list[StudyResults]) -> str:
    """README text with the block between README_START and README_END replaced by `results_markdown`."""
    if README_START not in text or README_END not in text:
        raise ValueError(f"README lacks the markers {README_START!r} ... {README_END!r}")
    head, rest = text.split(README_START, 1)
    return f"{head}{README_START}\n{results_markdown(studies)}\n{README_END}{rest.split(README_END, 1)[1]}"
