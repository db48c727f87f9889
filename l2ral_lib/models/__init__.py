"""Target models. Every model returns `ModelOutput`, so heads and strategies work on any task:

- `output`: what the task's loss reads (logits, density map, heatmaps);
- `features`: the four block outputs, shallow to deep (LL4AL's LossNet reads all four, the L2R head
  the last one);
- `embedding`: (B, D) penultimate features (core-set distances).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..registry import Registry, import_submodules


class ModelOutput(NamedTuple):
    output: torch.Tensor
    features: list
    embedding: torch.Tensor


MODELS = Registry("model")  # name -> builder(params, data) -> nn.Module returning ModelOutput
register_model, list_models = MODELS.register, MODELS.names


def build_model(params, data) -> torch.nn.Module:
    """Build the target model named by `params.model` for the loaded dataset `data`."""
    return MODELS.get(params.model)(params, data)


import_submodules(__name__, __path__)  # a new model is one new file
