"""One registry for every kind of named component (strategies, datasets, models, tasks): a new one is
a decorated definition in its own module, found by name, listed in `python -m l2ral_lib list`."""
from __future__ import annotations

import difflib
import importlib
import pkgutil


class Registry:
    def __init__(self, kind: str):
        self.kind, self._items = kind, {}

    def register(self, name: str):
        """Decorator: `@REGISTRY.register("name")` above a class or function (or called on an object)."""
        def add(item):
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item
        return add

    def names(self) -> list[str]:
        return sorted(self._items)

    def get(self, name: str):
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}'{did_you_mean(name, self.names())}; known: {', '.join(self.names())}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        return name in self._items


def did_you_mean(name: str, known) -> str:
    """" (did you mean 'x'?)" for the closest of `known`, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def import_submodules(package: str, path) -> None:
    """Import every module of a package so that each registers what it defines."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
