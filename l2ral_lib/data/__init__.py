"""Datasets of the study: a registry of loaders, each returning a `StudyData` resident on the device."""
from __future__ import annotations

from ..errors import DataError
from ..paths import data_root
from ..registry import import_submodules
from .base import DATASETS, StudyData, get_dataset, list_datasets, load_dataset, register_dataset

import_submodules(__name__, __path__)  # a new dataset is one new file

__all__ = ["DATASETS", "DataError", "StudyData", "data_root", "register_dataset", "list_datasets", "get_dataset", "load_dataset"]
