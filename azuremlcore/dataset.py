"""Dataset: entry point for creating and finding datasets (``azureml.core.Dataset``).

`Dataset.Tabular.from_delimited_files(...)`, `Dataset.File.from_files(...)`, then `.register(ws, name)`;
`Dataset.get_by_name(ws, name)` returns the TabularDataset or FileDataset registered under name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlcore.data.abstract_dataset import AbstractDataset
from azuremlcore.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.workspace import Workspace


class Dataset:
    """Factories (`Dataset.Tabular`, `Dataset.File`) and lookup of registered datasets."""

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory

    def __init__(self, definition: Any = None, workspace: "Workspace | None" = None, name: str | None = None,
                 id: str | None = None) -> None:
        raise UserErrorException("Create datasets with Dataset.Tabular.from_delimited_files(...) or "
                                 "Dataset.File.from_files(...); load registered ones with Dataset.get_by_name(ws, name).")

    @staticmethod
    def get_by_name(workspace: "Workspace", name: str, version: int | str = "latest", **kwargs: Any) -> Any:
        """The registered dataset of that name and version ('latest' by default)."""
        return AbstractDataset.get_by_name(workspace, name, version)

    @staticmethod
    def get_by_id(workspace: "Workspace", id: str, **kwargs: Any) -> Any:
        """The dataset with that id."""
        return AbstractDataset.get_by_id(workspace, id)

    @staticmethod
    def get_all(workspace: "Workspace") -> dict[str, Any]:
        """Registered datasets by name (latest version)."""
        return AbstractDataset.get_all(workspace)

    @staticmethod
    def get(workspace: "Workspace", name: str | None = None, id: str | None = None) -> Any:
        """(Deprecated) A dataset by name or id."""
        if name:
            return AbstractDataset.get_by_name(workspace, name)
        if id:
            return AbstractDataset.get_by_id(workspace, id)
        raise UserErrorException("Dataset.get needs name= or id=.")

    @staticmethod
    def list(workspace: "Workspace") -> list[Any]:
        """(Deprecated) Registered datasets (latest version of each)."""
        return list(AbstractDataset.get_all(workspace).values())
