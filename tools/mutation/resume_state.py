"""mutmut's verdicts kept in the repository, so that a mutation run longer than one working session
resumes where it stopped instead of starting over (mutmut keeps them in `mutants/`, which is not tracked).

    python tools/mutation/resume_state.py save TREE      # TREE/mutants/ -> tools/mutation/verdicts.json.gz
    python tools/mutation/resume_state.py restore TREE   # tools/mutation/verdicts.json.gz -> TREE/mutants/
    python tools/mutation/resume_state.py pending TREE --scope GLOB ...   # in-scope mutants without a verdict

What is kept, as one gzipped JSON file (generated data: a file per source would mirror the package's paths
in a tree of their own): the text of each source file's `.meta` (verdict per mutant) and of mutmut's
`mutmut-stats.json` (which tests reach which function, their durations), under their paths in `mutants/`,
and `sources`, the sha256 of every file mutmut mutates (pyproject's `only_mutate`). `restore` refuses when
one of those files changed since the save: the list of pending mutants is read from the saved verdicts,
which know nothing of a changed function's new mutants, so a changed source means a full `make mutation`.
Tests may change between a save and a resume: a verdict then stands as reached, as in one long mutmut run.
`make mutation RESUME=1` restores, runs the pending mutants only and saves again; a plain `make mutation`
reruns every mutant of the scope and saves.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tomllib
from pathlib import Path

from mutation_report import in_scope, verdicts  # the report reads the verdicts as this does (same folder)

STATE = Path(__file__).resolve().parent / "verdicts.json.gz"
STATS = "mutmut-stats.json"


def mutated_sources(tree: Path) -> dict[str, str]:
    """Path -> sha256 of every file that pyproject's `[tool.mutmut] only_mutate` names in `tree`."""
    globs = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    files = sorted({path for glob in globs for path in tree.glob(glob) if path.suffix == ".py"})
    return {str(path.relative_to(tree)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def kept_files(mutants: Path) -> list[Path]:
    """The files of a `mutants/` folder that hold verdicts and test mapping, relative to it."""
    found = [meta.relative_to(mutants) for meta in mutants.rglob("*.meta")]
    return sorted(found + ([Path(STATS)] if (mutants / STATS).is_file() else []))


def save(tree: Path, state: Path) -> int:
    """TREE/mutants' kept files and TREE's mutated sources into `state`, replacing what it held. -> files saved."""
    mutants = tree / "mutants"
    files = kept_files(mutants)
    if not files:
        raise SystemExit(f"{mutants}: no mutmut verdicts (*.meta) to save; run `make mutation` first")
    saved = {"sources": mutated_sources(tree), "files": {str(name): (mutants / name).read_text() for name in files}}
    # mtime 0 and sorted keys: the same verdicts give the same bytes, so git sees a change only where one is
    state.write_bytes(gzip.compress(json.dumps(saved, sort_keys=True, indent=0).encode(), mtime=0))
    return len(files)


def restore(tree: Path, state: Path) -> int:
    """`state` into TREE/mutants (its earlier kept files removed) when TREE's mutated sources are those the
    verdicts were reached on. -> files restored."""
    if not state.is_file():
        raise SystemExit(f"{state}: no saved mutation run to resume; run `make mutation` without RESUME")
    saved = json.loads(gzip.decompress(state.read_bytes()))
    changed = sorted(set(saved["sources"].items()) ^ set(mutated_sources(tree).items()))
    if changed:
        raise SystemExit(f"{state}: {changed[0][0]} is not the file the saved verdicts were reached on;"
                         " run `make mutation` without RESUME to start over")
    mutants = tree / "mutants"
    for old in kept_files(mutants) if mutants.is_dir() else []:
        (mutants / old).unlink()
    for name, text in saved["files"].items():
        (mutants / name).parent.mkdir(parents=True, exist_ok=True)
        (mutants / name).write_text(text)
    return len(saved["files"])


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
    parser.add_argument("--state", type=Path, default=STATE, help="the saved verdicts' file (default: %(default)s)")
    parser.add_argument("--scope", nargs="+", default=["*"], help="mutant name globs (MUTANTS in the Makefile)")
    parser.add_argument("--or-one", action="store_true", help="pending: the scope's first mutant where none is pending")
    args = parser.parse_args(argv)
    if args.action == "save":
        print(f"saved {save(args.tree, args.state)} files of {args.tree / 'mutants'} to {args.state}")
    elif args.action == "restore":
        print(f"restored {restore(args.tree, args.state)} files of {args.state} to {args.tree / 'mutants'}")
    else:
        print("\n".join(pending(args.tree / "mutants", args.scope, args.or_one)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
