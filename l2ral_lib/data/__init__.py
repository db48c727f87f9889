"""Datasets of the study: a registry of loaders, each returning a `StudyData` resident on the device."""
from __future__ import annotations

from .base import DataError, StudyData, data_root

_DATASETS: dict = {}


def register_dataset(name: str):
    def wrap(cls):
        _DATASETS[name] = cls
        return cls
    return wrap


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def get_dataset(name: str):
    """The loader class of `name`: `.task` (the name in l2ral_lib.tasks), `.pool_size(params)` (known
    without loading, or None) and `.load(params, device) -> StudyData`."""
    return _DATASETS[name]


def load_dataset(params, device) -> StudyData:
    return get_dataset(params.dataset).load(params, device)


def _import_all():
    """Import every module of this package so each registers its loader: a new dataset is one new file."""
    import importlib  # noqa: PLC0415
    import pkgutil  # noqa: PLC0415

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_import_all()

__all__ = ["DataError", "StudyData", "data_root", "register_dataset", "list_datasets", "get_dataset", "load_dataset"]
