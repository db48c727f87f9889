"""What every target model shares: its output type and the registry it is found in by name."""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..registry import Registry


class ModelOutput(NamedTuple):
    output: torch.Tensor
    features: list
    embedding: torch.Tensor


MODELS = Registry("model", plugins="l2ral.models")  # name -> builder(params, data) -> nn.Module returning ModelOutput
register_model, list_models = MODELS.register, MODELS.names


def build_model(params, data) -> torch.nn.Module:
    """Build the target model named by `params.model` for the loaded dataset `data`."""
    return MODELS.get(params.model)(params, data)
