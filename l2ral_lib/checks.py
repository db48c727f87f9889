"""Everything a study checks before it trains, in the order it runs: the params' keys and arithmetic
(config.py), their names against the registries (dataset, model, strategies, objective) and each
strategy's needs, the output folder's refusals, the files the params name, then what needs the loaded
data (pool size, input shapes).
A failure is one `ParamsError` naming the key and the remedy, before anything is written.

`load_params` and `from_dict` are how every entry point reads params: config's schema plus these checks.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .config import Params, parse_params, read_params
from .data import StudyData, get_dataset, list_datasets, load_dataset
from .errors import ParamsError
from .losses import RANK_LOSSES
from .models import check_model, check_model_on_data
from .outputs import StudyFolder
from .paths import pretrained_file
from .registry import did_you_mean
from .strategies import get_strategy, list_strategies


def validate_names(params: Params) -> None:
    """The names the params give against the registries, and what each dataset and strategy allows."""
    if params.dataset not in list_datasets():
        raise ParamsError("dataset", f"unknown dataset '{params.dataset}'; known: {', '.join(list_datasets())}")
    dataset = get_dataset(params.dataset)
    if hasattr(dataset, "check_params"):  # what a dataset needs of the params (image-folder: data_root)
        dataset.check_params(params)
    if params.data_loading == "stream" and not getattr(dataset, "streams", False):
        raise ParamsError("data_loading", f"{params.dataset} is held on the device; stream is for image-folder and"
                                          " image-csv")
    allowed = getattr(dataset, "downscales", (1,))
    if params.input_downscale not in allowed:
        raise ParamsError("input_downscale", f"{params.dataset} supports {', '.join(map(str, allowed))}, got"
                                             f" {params.input_downscale}")
    if params.dropout and dataset.task != "classification":
        raise ParamsError("dropout", f"only the classification models have a dropout layer; set 0 for"
                                     f" {params.dataset}")
    check_model(params)
    known = list_strategies()
    for i, name in enumerate(params.strategies):
        if name not in known:
            raise ParamsError(f"strategies[{i}]", f"unknown strategy '{name}'{did_you_mean(name, known)};"
                                                  f" known: {', '.join(known)}")
    if params.rank_loss is not None and params.rank_loss not in RANK_LOSSES:
        raise ParamsError("rank_loss", f"unknown objective '{params.rank_loss}'{did_you_mean(params.rank_loss, RANK_LOSSES)};"
                                       f" known: {', '.join(RANK_LOSSES)} (or null: each method's own)")
    full = dataset.pool_size(dataclasses.replace(params, pool_size=None))
    if params.pool_size is not None and full is not None and params.pool_size > full:
        raise ParamsError("pool_size", f"({params.pool_size}) is larger than the training set ({full})")
    pool = params.pool_size or full
    if pool is not None and params.max_labeled > pool:
        raise ParamsError("max_labeled", f"({params.max_labeled}) is larger than the pool ({pool} samples of"
                                         f" {params.dataset}); lower max_labeled or raise pool_size")
    for name in params.strategies:
        get_strategy(name).check_params(params)


def from_dict(raw: dict) -> Params:
    """A plain dict (a params.json, papermill parameters) as `Params`, every check of this module made."""
    params = parse_params(raw)
    validate_names(params)
    return params


def load_params(path: str | Path, overrides: dict | None = None) -> Params:
    """Load a params file (its `base:` chain resolved; `overrides` win, dotted keys set one key of a
    section) and make every check that needs no data."""
    params = read_params(path, overrides)
    validate_names(params)
    return params


def check_study(params: Params, device: torch.device = torch.device("cpu"), folder: StudyFolder | None = None,
                data: StudyData | None = None) -> StudyData:
    """Every check a run makes before training, writing nothing, in this order: the names against the
    registries (again, for params built in code without `load_params`); the output folder's refusals, where
    `folder` is given; the files the params name, before the (long) data loading;
    then what needs the loaded data (the pool's size, a torchvision or your own model's outputs on the
    inputs, each strategy's needs of them, such as VAAL's image shape). The data is loaded on `device` (the
    CPU for `python -m l2ral_lib check`), or is `data` as given (labeling's pool); a run then trains on it."""
    validate_names(params)
    if folder is not None:
        folder.refuse(params)
    if params.pretrained:
        pretrained_file(params.pretrained)
    data = load_dataset(params, device) if data is None else data
    if params.max_labeled > data.n_pool:
        raise ParamsError("max_labeled", f"({params.max_labeled}) is larger than the pool ({data.n_pool} samples"
                                         f" of {data.name}); lower max_labeled")
    check_model_on_data(params, data)
    for name in params.strategies:
        get_strategy(name).check_data(params, data)
    return data
