"""What the explore notebook settles before it shows anything: which (method, seed, cycle) of a finished study
to detail, checked against the study's stored picks (`choose`: a method's key or its display name, "l2r" or
"L2R-AL"; a value the study lacks stops there, with the values it has), and whether the study's dataset is on
disk (`dataset`: the overlap of the picks needs none, the pictures and classes do)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data import load_dataset
from ..errors import DataError
from .labels import method_label, ordered


@dataclass(frozen=True)
class Choice:
    """A batch of the study: the method's strategy key, the seed and the cycle (0: the initial labeled set)."""

    method: str
    seed: int
    cycle: int

    def __str__(self) -> str:
        return f"{method_label(self.method)} ({self.method}), seed {self.seed}, cycle {self.cycle}"


def _span(values) -> str:
    """'0-4' for consecutive integers, else '0, 2, 5'."""
    values = sorted(int(v) for v in values)
    consecutive = len(values) > 2 and values == list(range(values[0], values[-1] + 1))
    return f"{values[0]}-{values[-1]}" if consecutive else ", ".join(map(str, values))


def choices(picks: pd.DataFrame) -> str:
    """What can be chosen in a study, from its stored picks (report.study.StudyResults.picks): every method's key and
    display name, the seeds, the cycles."""
    methods = ", ".join(f"{m} ({method_label(m)})" for m in ordered(picks.method.unique()))
    return (f"methods (key and name; either is accepted): {methods}; seeds {_span(picks.seed.unique())};"
            f" cycles {_span(picks.cycle.unique())} (0: the initial labeled set, c >= 1: the batch queried at cycle c)")


def choose(picks: pd.DataFrame, method: str, seed: int, cycle: int) -> Choice:
    """The batch (`method`, `seed`, `cycle`) of a study whose stored picks are `picks`, the method named by
    its key or its display name (any case). A value the study has no picks for is a ValueError naming it and
    listing what the study has, so that a notebook stops at its first cell, not after its heavy ones."""
    names = {}
    for key in picks.method.unique():
        names[key.lower()] = names[method_label(key).lower()] = key
    key = names.get(str(method).strip().lower())
    if key is None:
        raise ValueError(f"method {method!r} is not in this study; {choices(picks)}")
    mine = picks[picks.method == key]
    if seed not in set(mine.seed):
        raise ValueError(f"seed {seed}: {method_label(key)} has picks at seeds {_span(mine.seed.unique())}; {choices(picks)}")
    cycles = mine[mine.seed == seed].cycle.unique()
    if cycle not in set(cycles):
        raise ValueError(f"cycle {cycle}: {method_label(key)} seed {seed} has picks at cycles {_span(cycles)}"
                         f" (0: the initial labeled set); {choices(picks)}")
    return Choice(key, int(seed), int(cycle))


def dataset(params):
    """The study's dataset on the CPU and '', or None and why it is not there (the DataError's message, which
    says how to get it)."""
    try:
        return load_dataset(params, "cpu"), ""
    except DataError as error:
        return None, str(error)
