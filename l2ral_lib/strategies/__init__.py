"""Query strategies behind one signature (see `base.Strategy`), found by name.

Adding a strategy = one module with a `@register_strategy("name")` class, imported below.
"""
from __future__ import annotations

from ..registry import Registry
from .base import QueryContext, ScoreStrategy, Strategy

STRATEGIES = Registry("strategy")
list_strategies, get_strategy = STRATEGIES.names, STRATEGIES.get


def register_strategy(name: str):
    def wrap(cls):
        cls.name = name  # a strategy knows its own name (result rows, error messages)
        return STRATEGIES.register(name)(cls)
    return wrap


from . import (  # noqa: E402,F401  (register)
    badge,
    bald,
    coreset,
    entropy,
    l2r,
    least_confidence,
    ll4al,
    margin,
    oracle_loss,
    random,
    vaal,
)

__all__ = ["QueryContext", "ScoreStrategy", "Strategy", "register_strategy", "list_strategies", "get_strategy"]
