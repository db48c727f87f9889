"""The errors a user can fix, at the bottom of the package: every module may raise them, none of
them imports anything of the package (no import circle through config)."""
from __future__ import annotations


class ParamsError(ValueError):
    """An invalid parameter: `key` names it, the message says what was wrong and what to do."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"params: {key}: {message}")


class DataError(RuntimeError):
    """A dataset that is missing or broken: the message names the path and what to do."""


class PluginError(RuntimeError):
    """An installed plugin (another package's entry point) that cannot be used: the message names the entry
    point, its group and package, and what went wrong."""
