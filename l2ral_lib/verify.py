"""Rerun one finished slice of a study from its recorded params and compare it with what is stored:
the check behind "the shipped numbers are what this code computes" (`python -m l2ral_lib verify`).

Exact equality is expected on the numerics fingerprint that computed the slice (provenance.fingerprint:
processor, instruction sets, torch build, device, precision, threads; in its provenance.json): CPU kernels
split their reductions by thread and pick their instructions by processor, so the rerun takes the recorded
thread count (measured: cifar10-smoke's l2r seed 0, computed on 2 threads, rerun on 1, ends its first cycle
at 14.40 % accuracy instead of 21.45 %), and says first whether the rest of its fingerprint matches: where
it does not, a difference is expected and the verdict says so rather than that the code is wrong.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .config import parse_params
from .devices import cpu_threads, resolve_device
from .errors import ParamsError
from .loop import run_study
from .precision import describe as describe_precision
from .provenance import check_fingerprint
from .study_folder import StudyLayout

# exit statuses of `verify` (its --help says them): reproduced to the last digit; differs on the slice's
# own fingerprint (the code or its inputs changed); differs where the fingerprint does too (expected)
REPRODUCED, DIFFERS, DIFFERS_EXPECTED = 0, 1, 3


@dataclass
class Verdict:
    """What `verify` found: the rows and picks that differ, and the fingerprint keys in which the rerun
    differs from the slice (each with the slice's recorded values)."""

    differences: list[str]
    fingerprint: dict[str, list]
    described: str  # the fingerprint difference in words ('' when it matches)
    unknown: list[str]  # fingerprint keys the slice's record lacks (recorded before fingerprints)

    @property
    def status(self) -> int:
        if not self.differences:
            return REPRODUCED
        return DIFFERS_EXPECTED if self.fingerprint else DIFFERS

    def conclusion(self) -> str:
        if not self.differences:
            return "reproduced exactly"
        if self.fingerprint:
            return f"differs, expected: fingerprint differs in {', '.join(self.fingerprint)}"
        if self.unknown:
            return (f"differs; the slice does not record its {', '.join(self.unknown)}: whether the machine explains"
                    " it cannot be told (recompute the slice on the current code to record them)")
        return "differs on the slice's own fingerprint: the code or its inputs changed since it was computed"


def verify_slice(out_dir: str | Path, method: str, seed: int, device: str = "cpu",
                 scratch: str | Path | None = None, say=lambda line: None) -> Verdict:
    """Rerun slice (method, seed) of the study in `out_dir` from its params.json (checked as every run's
    params are, by the run), in `scratch` (a temporary folder by default), and compare. `say` hears first
    whether the fingerprint matches."""
    study = StudyLayout(out_dir)
    stored = study.slice(method, seed)
    for needed in (study.params_file, stored.rows_file, stored.selected_file):
        if not needed.is_file():
            raise ParamsError("verify", f"{needed} not found: name a study folder and one of its finished slices")
    # the one slice: a seed plan naming the study's other methods would not fit it
    params = parse_params({**study.params(), "strategies": [method], "seeds": [seed], "strategy_seeds": {}})
    resolved = resolve_device(device)
    check = check_fingerprint(stored, resolved, describe_precision(params, resolved))
    with cpu_threads(check.threads):
        say(check.line)
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            run_study(params, device, folder, progress=False)  # params of this one slice
            return Verdict(stored.differences(StudyLayout(folder).slice(method, seed)), check.differ, check.described,
                           check.unknown)
