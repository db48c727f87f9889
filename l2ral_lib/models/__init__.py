"""Target models. Every model returns `ModelOutput`, so heads and strategies work on any task:

- `output`: what the task's loss reads (logits, density map, heatmaps);
- `features`: the four block outputs, shallow to deep (LL4AL's LossNet reads all four, the L2R head
  the last one);
- `embedding`: (B, D) penultimate features (core-set distances).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch


class ModelOutput(NamedTuple):
    output: torch.Tensor
    features: list
    embedding: torch.Tensor


_MODELS: dict[str, Callable] = {}


def register_model(name: str):
    def wrap(builder):
        _MODELS[name] = builder
        return builder
    return wrap


def list_models() -> list[str]:
    return sorted(_MODELS)


def build_model(params, data) -> torch.nn.Module:
    """Build the target model named by `params.model` for the loaded dataset `data`."""
    return _MODELS[params.model](params, data)


def _import_all():
    """Import every module of this package so each registers its models: a new model is one new file."""
    import importlib  # noqa: PLC0415
    import pkgutil  # noqa: PLC0415

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_import_all()
