"""One registry for every kind of named component (strategies, datasets, models, tasks): a new one is
a decorated definition in its own module, found by name, listed in `python -m l2ral_lib list`.

Other installed packages add components through entry points (pyproject.toml of the plugin):

    [project.entry-points."l2ral.strategies"]      # or l2ral.datasets, l2ral.models
    my-strategy = "mypkg.strategies:MyStrategy"    # or the module alone: "mypkg.strategies"

The entry point's name is the name params use. Its value is where the component is defined: importing it
registers the component with the same decorator a built-in uses (`@register_strategy("my-strategy")`), so a
plugin needs no second way of registering, and the registry checks that the decorator's name is the entry
point's (naming an object, the entry point must name the one registered). A registry loads its group when it
is first consulted, in every process: `--jobs` workers and Slurm tasks import the package afresh and so
load the same plugins (examples/l2ral-plugin-example/)."""
from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from importlib.metadata import EntryPoint, entry_points

from .errors import PluginError

LOADED: dict[str, dict[str, str]] = {}  # group -> name -> the distribution that provided it ("pkg 1.0")


class Registry:
    def __init__(self, kind: str, plugins: str | None = None):
        """`plugins`: the entry-point group through which other packages add to this registry."""
        self.kind, self.group, self._items = kind, plugins, {}
        self._plugins_loaded = plugins is None

    def register(self, name: str):
        """Decorator: `@REGISTRY.register("name")` above a class or function (or called on an object)."""
        def add(item):
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item
        return add

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def get(self, name: str):
        self._load_plugins()
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}'{did_you_mean(name, self.names())}; known: {', '.join(self.names())}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._items

    def _load_plugins(self) -> None:
        """Every entry point of the group, once per process (the built-ins are registered by then: their
        package imports every module of it before anything consults the registry)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # first: a plugin that consults the registry while it loads sees it as loaded
        failed = []
        for entry in sorted(entry_points(group=self.group), key=lambda e: e.name):
            try:
                self._load(entry)
            except PluginError as error:  # the others still load; the first failure is said
                failed.append(error)
        if failed:
            raise failed[0]

    def _load(self, entry: EntryPoint) -> None:
        source = f"{entry.dist.name} {entry.dist.version}" if entry.dist else "an unknown package"
        where = f"plugin {entry.name} = {entry.value} (entry point of {source} in group {self.group})"
        before = set(self._items)
        try:
            value = entry.load()
        except Exception as error:  # noqa: BLE001 -- whatever a plugin's import raises, said in one line
            raise PluginError(f"{where} failed to load: {type(error).__name__}: {' '.join(str(error).split())}") from error
        if entry.name not in self._items:
            added = sorted(set(self._items) - before)
            found = (f"it registered {', '.join(map(repr, added))}: the entry point's name must be the registered one"
                     if added else f"importing {entry.value} registered nothing (register it with the decorator of"
                                   f" the {self.kind} registry in that module)")
            raise PluginError(f"{where} registered no {self.kind} named '{entry.name}'; {found}")
        if not inspect.ismodule(value) and value is not self._items[entry.name]:
            raise PluginError(f"{where} names {value!r}, but '{entry.name}' is registered to {self._items[entry.name]!r}")
        LOADED.setdefault(self.group, {})[entry.name] = source


def did_you_mean(name: str, known) -> str:
    """" (did you mean 'x'?)" for the closest of `known`, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def import_submodules(package: str, path) -> None:
    """Import every module of a package so that each registers what it defines."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
