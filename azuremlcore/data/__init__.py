"""Datastores and datasets (``azureml.data``): FileDataset, TabularDataset, DataReference and friends.

Submodules mirror azureml.data: azure_storage_datastore, data_reference, datapath, file_dataset,
tabular_dataset, dataset_factory, dataset_consumption_config, dataset_type_definitions,
output_dataset_config.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FileDataset": "azuremlcore.data.file_dataset",
    "TabularDataset": "azuremlcore.data.tabular_dataset",
    "DataReference": "azuremlcore.data.data_reference",
    "DatasetConsumptionConfig": "azuremlcore.data.dataset_consumption_config",
    "TabularDatasetFactory": "azuremlcore.data.dataset_factory",
    "FileDatasetFactory": "azuremlcore.data.dataset_factory",
    "AzureBlobDatastore": "azuremlcore.data.azure_storage_datastore",
    "OutputFileDatasetConfig": "azuremlcore.data.output_dataset_config",
    "OutputTabularDatasetConfig": "azuremlcore.data.output_dataset_config",
    "OutputDatasetConfig": "azuremlcore.data.output_dataset_config",
    "DataPath": "azuremlcore.data.datapath",
    "DataPathComputeBinding": "azuremlcore.data.datapath",
}
# `azureml.data.__version__` in the real SDK: the SDK's version.
from azuremlcore import __version__  # noqa: E402

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'azuremlcore.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
