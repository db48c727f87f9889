"""l2ral: "Learning to Rank for Active Learning: A Listwise Approach" (Li et al., ICPR 2020) and its
baselines as a reproducible study.

The public API, imported on first use so that `import l2ral_lib.config` stays cheap:
    load_params, Params, ParamsError, DataError   params and the errors a user can fix
    run_study, merge_results, check_study         the active-learning study (loop, outputs, checks)
    get_strategy, list_strategies                 query strategies
    load_sorter, exact_ranks                      the differentiable sorter and exact ranks
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"

_API = {"load_params": "checks", "Params": "config", "ParamsError": "errors", "DataError": "errors",
        "run_study": "loop", "merge_results": "outputs", "check_study": "checks",
        "get_strategy": "strategies", "list_strategies": "strategies",
        "load_sorter": "sorter", "exact_ranks": "ranks"}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'l2ral_lib' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
