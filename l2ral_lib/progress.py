"""Visible progress of a study: one log line per finished (method, seed, cycle) with its metrics, the
elapsed time and an estimate of the time left.

The lines go through `logging` (logger `l2ral_lib.progress`) to stderr: in the terminal of
`python -m l2ral_lib run`, in the executed notebook, and from there in the terminal of `make <experiment>`
(papermill --log-output). Plain lines, no progress bars: they read the same in all three places.
"""
from __future__ import annotations

import logging
import sys
import time


log = logging.getLogger(__name__)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (a notebook kernel or pytest swaps it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def log_to_stderr() -> None:
    """Show the library's INFO lines on stderr; calling it again adds no second handler."""
    logger = logging.getLogger("l2ral_lib")
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def duration(seconds: float) -> str:
    """'42s', '3m05s', '1h02m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class StudyProgress:
    """Counts the finished cycles of a run's slices, those of a resumed study included: `before` = the
    cycles each slice's saved state holds when the run starts (outputs.SliceFolder.cycles_saved: rows
    committed without their state are to do, not done). Time left = mean wall time of the cycles finished
    in this run x cycles still to do (cycles grow with the labeled set: an early estimate is low)."""

    def __init__(self, study: str, before: dict[tuple[str, int], int], n_cycles: int,
                 metrics: tuple[str, ...]):
        self.study, self.n_cycles, self.metrics = study, n_cycles, metrics
        self.total = len(before) * n_cycles
        self.before = dict(before)
        self.done = sum(self.before.values())  # cycles finished, in this run or before it
        self.done_here = 0
        self.seen: set[tuple[str, int]] = set()
        self.started = time.perf_counter()

    def cycle_done(self, method: str, seed: int, cycle: int, n_labeled: int, measurements: dict) -> None:
        if (method, seed) not in self.seen:  # a slice reports first at cycle k: k cycles were done before
            self.seen.add((method, seed))
            self.done += cycle - self.before.get((method, seed), 0)
        self.done += 1
        self.done_here += 1
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done_here * (self.total - self.done)
        shown = ", ".join(f"{name} {measurements[name]:.4g}" for name in self.metrics if name in measurements)
        log.info("%s: %s seed %d cycle %d [%d/%d] (%d labeled): %s | %d/%d cycles done, elapsed %s, left ~%s",
                 self.study, method, seed, cycle, cycle + 1, self.n_cycles, n_labeled, shown, self.done,
                 self.total, duration(elapsed), duration(left))

    def taken(self, method: str, seed: int, cycles: int) -> None:
        """This run takes the slice, whose state now holds `cycles`: those another run computed since this
        one started count as done."""
        if (method, seed) not in self.seen:
            self.seen.add((method, seed))
            self.done += cycles - self.before.get((method, seed), 0)
