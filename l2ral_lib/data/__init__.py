"""Datasets of the study: a registry of loaders, each returning a `StudyData` resident on the device."""
from __future__ import annotations

from ..errors import DataError
from ..paths import data_root
from ..registry import Registry, import_submodules
from .base import StudyData

# name -> loader class: `.task` (the name in l2ral_lib.tasks), `.pool_size(params)` (known without
# loading, or None), `.load(params, device) -> StudyData`
DATASETS = Registry("dataset")
register_dataset, list_datasets, get_dataset = DATASETS.register, DATASETS.names, DATASETS.get


def load_dataset(params, device) -> StudyData:
    return get_dataset(params.dataset).load(params, device)


import_submodules(__name__, __path__)  # a new dataset is one new file

__all__ = ["DataError", "StudyData", "data_root", "register_dataset", "list_datasets", "get_dataset", "load_dataset"]
