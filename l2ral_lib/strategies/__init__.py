"""Query strategies behind one signature (see `base.Strategy`), found by name.

Adding a strategy = one module with a `@register_strategy("name")` class (the registry lives in
base.py, which every strategy module imports); this package imports every module of it.
"""
from __future__ import annotations

from ..registry import import_submodules
from .base import QueryContext, ScoreStrategy, Strategy, get_strategy, list_strategies, register_strategy

import_submodules(__name__, __path__)  # a new strategy is one new file

__all__ = ["QueryContext", "ScoreStrategy", "Strategy", "register_strategy", "list_strategies", "get_strategy"]
