"""What a dataset's `path=` argument names, read into sources (see `azuremlcore._data.sources`).

The argument holds the user's objects (datastores, `DataPath`, `DataReference`), so reading it is
the public layer's job; the machinery below only ever sees the source dicts this returns.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from azuremlcore._data import globbing
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.workspace import Workspace

_PATH_HELP = ("Pass path=(datastore, 'folder/*.csv'), a list of such tuples, datastore.path('folder'), "
              "a local path or glob, or an http(s) URL.")


def sources_from_path(path: Any) -> tuple[list[dict[str, Any]], "Workspace | None"]:
    """The sources a dataset `path=` argument names, and the workspace of its datastores (if any)."""
    from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore
    from azuremlcore.data.data_reference import DataReference
    from azuremlcore.data.datapath import DataPath

    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException(f"path= is empty. {_PATH_HELP}")
    out: list[dict[str, Any]] = []
    ws = None
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], AbstractAzureStorageDatastore):
            ds, pattern = item
            out.append({"datastore": ds.name, "path": globbing.normalise(str(pattern or ""))})
            ws = ds.workspace
        elif isinstance(item, DataPath):
            out.append({"datastore": item.datastore_name, "path": globbing.normalise(item.path_on_datastore or "")})
            ws = item._datastore.workspace
        elif isinstance(item, DataReference):
            out.append({"datastore": item.datastore.name, "path": globbing.normalise(item.path_on_datastore or "")})
            ws = item.datastore.workspace
        elif isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if text.startswith(("http://", "https://")):
                out.append({"url": text})
            elif "://" in text:
                raise UserErrorException(f"Unsupported path {text!r}: only http(s) URLs are read directly. {_PATH_HELP}")
            else:
                out.append({"local": os.path.abspath(os.path.expanduser(text))})
        else:
            raise UserErrorException(f"Unsupported path item {item!r}. {_PATH_HELP}")
    return out, ws
