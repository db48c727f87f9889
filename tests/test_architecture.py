"""The package's imports climb one way: params -> the world (data, models, tasks) -> the method
(heads, losses, ranks, sorter, strategies) -> the study (seeds, checks, outputs, provenance, loop) ->
executors -> entry points; reporting reads the results table and params only. A circle, an import that
reaches up a floor, or an import hidden inside a function to dodge one fails here."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "l2ral_lib"

# floor of every module (by dotted prefix, the longest match wins); a module may import its own floor or lower
FLOORS = {
    "errors": 0, "registry": 0, "paths": 0, "templates": 0, "files": 0, "precision": 0, "compilation": 0, "progress": 0, "study_folder": 0, "paper": 0,
    "config": 1, "provenance": 1, "devices": 2,
    "data": 2, "models": 2, "tasks": 2,
    "heads": 3, "ranks": 3, "losses": 3, "sorter": 3, "strategies": 3, "training": 3,
    "seeds": 4, "checks": 4, "outputs": 4, "projection": 4, "loop": 5, "verify": 6, "reproduction": 6, "labeling": 6,
    "executors": 6, "running": 7, "notebook": 7, "__main__": 8, "__init__": 8,
    "report": 4,
}
# what reporting may read: the study folder (its layout and results table), params, what the paper states, and
# the dataset, for pictures (what each method picked is shown from the stored picks and the images); never the
# computation
REPORT_MAY_IMPORT = {"errors", "registry", "paths", "study_folder", "paper", "config", "tasks", "data", "report"}
# the CLI imports each command's code when that command runs, so that `--help` and `list` start fast
LAZY_ALLOWED = {"__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(current: str, is_package: bool, node: ast.ImportFrom, known: set[str]) -> list[str]:
    """The package modules an ImportFrom names (a submodule where `from x import name` names one)."""
    if node.level == 0:
        if not (node.module or "").startswith("l2ral_lib"):
            return []
        base = node.module.removeprefix("l2ral_lib").lstrip(".")
    else:
        parts = current.split(".") if current else []
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}" if base else alias.name
        targets.append(sub if sub in known else base)
    return [t for t in targets if t in known or t == ""]


def imports() -> dict[str, list[tuple[str, bool]]]:
    """module -> [(imported package module, inside a function?)]."""
    known = set(modules())
    graph = {}
    for name, path in modules().items():
        tree, edges = ast.parse(path.read_text()), []
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        local = {id(n) for f in functions for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                edges += [(t, id(node) in local) for t in resolve(name, path.name == "__init__.py", node, known)]
            elif isinstance(node, ast.Import):
                edges += [(a.name.removeprefix("l2ral_lib").lstrip("."), id(node) in local) for a in node.names
                          if a.name.startswith("l2ral_lib.")]
        graph[name] = [(t, lazy) for t, lazy in edges if t != name]
    return graph


def floor(module: str) -> int:
    key = max((k for k in FLOORS if module == k or module.startswith(k + ".")), key=len, default=None)
    if key is None:
        raise AssertionError(f"l2ral_lib.{module} has no floor in FLOORS: place it on the ladder")
    return FLOORS[key]


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    graph = {m: [t for t, _ in edges if t] for m, edges in imports().items()}
    assert cycles(graph) == []


def test_the_circle_test_finds_a_circle():
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_imports_never_reach_up_a_floor():
    upward = [f"{m} (floor {floor(m)}) imports {t} (floor {floor(t)})" for m, edges in imports().items()
              for t, _ in edges if t and floor(t) > floor(m)]
    assert upward == []


def test_no_import_inside_a_function_to_dodge_a_circle():
    hidden = [f"{m} imports {t or 'l2ral_lib'} inside a function" for m, edges in imports().items()
              if m not in LAZY_ALLOWED for t, lazy in edges if lazy]
    assert hidden == []


def test_reporting_reads_the_results_table_and_params_only():
    reaching = [f"{m} imports {t}" for m, edges in imports().items() if m.startswith("report")
                for t, _ in edges if t.split(".")[0] not in REPORT_MAY_IMPORT]
    assert reaching == []


def test_every_module_has_a_floor():
    for module in modules():
        floor(module)


@pytest.mark.parametrize("source,expected", [("from .base import X", ["strategies.base"]),
                                             ("from . import base", ["strategies.base"]),
                                             ("from ..data import get_dataset", ["data"]),
                                             ("from ..sorter.weights import load_sorter", ["sorter.weights"])])
def test_relative_imports_resolve_to_modules(source, expected):
    node = ast.parse(source).body[0]
    assert resolve("strategies.l2r", False, node, set(modules())) == expected


def test_checking_params_loads_no_torchvision_dynamo_or_scipy_stats():
    """`check` and `list` start seconds sooner without them: torchvision loads Dynamo on
    import, and the three cost seconds together. A run or a counter imports each where it needs it."""
    heavy = ("torchvision", "torch._dynamo", "scipy.stats")
    code = (f"import sys, l2ral_lib.checks, l2ral_lib.outputs, l2ral_lib.models, l2ral_lib.tasks, l2ral_lib.data;"
            f" print([m for m in {heavy!r} if m in sys.modules])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"
