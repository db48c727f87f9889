"""Query strategies behind one signature (see `base.Strategy`), found by name.

Adding a strategy = one module with a `@register_strategy("name")` class, imported below.
"""
from __future__ import annotations

from .base import QueryContext, ScoreStrategy, Strategy

_STRATEGIES: dict[str, type] = {}


def register_strategy(name: str):
    def wrap(cls):
        cls.name = name
        _STRATEGIES[name] = cls
        return cls
    return wrap


def list_strategies() -> list[str]:
    return sorted(_STRATEGIES)


def get_strategy(name: str) -> type:
    if name not in _STRATEGIES:
        raise KeyError(f"unknown strategy '{name}'; known: {', '.join(list_strategies())}")
    return _STRATEGIES[name]


from . import (  # noqa: E402,F401  (register)
    badge, bald, coreset, entropy, l2r, least_confidence, ll4al, margin, random, vaal)

__all__ = ["QueryContext", "ScoreStrategy", "Strategy", "register_strategy", "list_strategies", "get_strategy"]
