"""What every target model shares: its output type and how it is found by name: the registry, and the
families of names resolved rather than registered one by one (adapter.py: torchvision/<name>,
<module>:<factory>)."""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from ..errors import ParamsError
from ..registry import Registry, did_you_mean


class ModelOutput(NamedTuple):
    output: torch.Tensor
    features: list
    embedding: torch.Tensor


MODELS = Registry("model", plugins="l2ral.models")  # name -> builder(params, data) -> nn.Module returning ModelOutput
register_model, list_models = MODELS.register, MODELS.names


class ModelFamily(NamedTuple):
    claims: Callable  # name -> whether this family resolves it
    check: Callable  # params -> None, or a ParamsError (before any data is loaded)
    build: Callable  # (params, data) -> nn.Module returning ModelOutput


FAMILIES: list[ModelFamily] = []


def register_model_family(claims, check, build) -> None:
    FAMILIES.append(ModelFamily(claims, check, build))


def _family(name: str) -> ModelFamily | None:
    return next((family for family in FAMILIES if family.claims(name)), None)


def check_model(params) -> None:
    """A ParamsError naming the key at fault unless `params.model` names a model that can be built."""
    family = _family(params.model)
    if family:
        family.check(params)
    elif params.model not in MODELS:
        raise ParamsError("model", f"unknown model '{params.model}'{did_you_mean(params.model, list_models())}; known:"
                                   f" {', '.join(list_models())}, torchvision/<name>, <module>:<factory>")


def check_model_on_data(params, data) -> None:
    """Build a family's model once for the loaded data (on the CPU, the global generator left as it was):
    one whose outputs do not fit is a ParamsError before any training. The registered models fit by design."""
    if _family(params.model):
        with torch.random.fork_rng(devices=[]):
            build_model(params, data)


def build_model(params, data) -> torch.nn.Module:
    """Build the target model named by `params.model` for the loaded dataset `data`."""
    family = _family(params.model)
    return family.build(params, data) if family else MODELS.get(params.model)(params, data)
