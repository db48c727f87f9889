"""Target models. Every model returns `ModelOutput`, so heads and strategies work on any task:

- `output`: what the task's loss reads (logits, density map, heatmaps);
- `features`: the four block outputs, shallow to deep (LL4AL's LossNet reads all four, the L2R head
  the last one);
- `embedding`: (B, D) penultimate features (core-set distances).

Beside the registered models, `torchvision/<name>` and `<module>:<factory>` name any classification
network, adapted to ModelOutput (adapter.py).
"""
from __future__ import annotations

from ..registry import import_submodules
from .base import (MODELS, ModelOutput, build_model, check_model, check_model_on_data, list_models, register_model,
                   register_model_family)

import_submodules(__name__, __path__)  # a new model is one new file

__all__ = ["MODELS", "ModelOutput", "build_model", "check_model", "check_model_on_data", "list_models",
           "register_model", "register_model_family"]
