"""mutmut's verdicts kept in the repository, so that a mutation run longer than one working session
resumes where it stopped instead of starting over (mutmut keeps them in `mutants/`, which is not tracked).

    python tools/mutation/state.py save TREE      # TREE/mutants/ -> tools/mutation/state/
    python tools/mutation/state.py restore TREE   # tools/mutation/state/ -> TREE/mutants/
    python tools/mutation/state.py pending TREE --scope GLOB ...   # in-scope mutants without a verdict

What is kept: each source file's `.meta` (verdict per mutant), mutmut's `mutmut-stats.json` (which tests
reach which function, their durations) and `sources.json`, the sha256 of every file mutmut mutates
(pyproject's `only_mutate`). `restore` refuses when one of those files changed since the save: the list of
pending mutants is read from the saved verdicts, which know nothing of a changed function's new mutants,
so a changed source means a full `make mutation`. Tests may change between a save and a resume: a verdict
then stands as reached, as in one long mutmut run. `make mutation RESUME=1` restores, runs the pending
mutants only and saves again; a plain `make mutation` reruns every mutant of the scope and saves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tomllib
from pathlib import Path

from mutation_report import in_scope, verdicts  # the report reads the verdicts as this does (same folder)

STATE = Path(__file__).resolve().parent / "state"
STATS = "mutmut-stats.json"
SOURCES = "sources.json"


def mutated_sources(tree: Path) -> dict[str, str]:
    """Path -> sha256 of every file that pyproject's `[tool.mutmut] only_mutate` names in `tree`."""
    globs = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    files = sorted({path for glob in globs for path in tree.glob(glob) if path.suffix == ".py"})
    return {str(path.relative_to(tree)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def kept_files(mutants: Path) -> list[Path]:
    """The files of a `mutants/` folder that hold verdicts and test mapping, relative to it."""
    found = [meta.relative_to(mutants) for meta in mutants.rglob("*.meta")]
    return sorted(found + ([Path(STATS)] if (mutants / STATS).is_file() else []))


def copy_state(source: Path, target: Path) -> int:
    """Replace target's kept files by source's. -> how many were copied."""
    files = kept_files(source)
    if not files:
        raise SystemExit(f"{source}: no mutmut verdicts (*.meta) to copy; run `make mutation` first")
    for old in kept_files(target) if target.is_dir() else []:
        (target / old).unlink()
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)
    return len(files)


def pending(mutants: Path, scope: list[str], or_one: bool = False) -> list[str]:
    """In-scope mutants without a verdict, in name order. `or_one`: where none is pending, the first of the
    scope, so that mutmut still runs once and rebuilds the mutated sources the report shows mutations from."""
    codes = verdicts(mutants)
    scoped = sorted(name for name in codes if in_scope(name, scope))
    found = [name for name in scoped if codes[name] is None]
    return found or (scoped[:1] if or_one else [])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("save", "restore", "pending"))
    parser.add_argument("tree", type=Path, help="the checkout in which mutmut runs (its mutants/ folder)")
    parser.add_argument("--state", type=Path, default=STATE, help="where the kept files lie (default: %(default)s)")
    parser.add_argument("--scope", nargs="+", default=["*"], help="mutant name globs (MUTANTS in the Makefile)")
    parser.add_argument("--or-one", action="store_true", help="pending: the scope's first mutant where none is pending")
    args = parser.parse_args(argv)
    mutants = args.tree / "mutants"
    if args.action == "save":
        copied = copy_state(mutants, args.state)
        (args.state / SOURCES).write_text(json.dumps(mutated_sources(args.tree), indent=1) + "\n")
        print(f"saved {copied} files of {mutants} to {args.state}")
    elif args.action == "restore":
        if not (args.state / SOURCES).is_file():
            raise SystemExit(f"{args.state}: no saved mutation run to resume; run `make mutation` without RESUME")
        saved = json.loads((args.state / SOURCES).read_text())
        changed = sorted(set(saved.items()) ^ set(mutated_sources(args.tree).items()))
        if changed:
            raise SystemExit(f"{args.state}: {changed[0][0]} is not the file the saved verdicts were reached on;"
                             " run `make mutation` without RESUME to start over")
        print(f"restored {copy_state(args.state, mutants)} files of {args.state} to {mutants}")
    else:
        print("\n".join(pending(mutants, args.scope, args.or_one)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
