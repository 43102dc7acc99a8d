"""FileDataset: a set of files on datastores, local paths or URLs, downloaded, mounted or passed to runs."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.data.abstract_dataset import AbstractDataset
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._data.mounting import MountContext
    from azuremlcore.data.dataset_consumption_config import DatasetConsumptionConfig


class FileDataset(AbstractDataset):
    """Files selected by path patterns; create with `Dataset.File.from_files(path=(datastore, 'images/**'))`."""

    _dataset_type = "file"

    def _files(self) -> list[Any]:  # selections apply to files here, so the mounting helpers see the final list
        from azuremlcore._data.sources import resolve
        from azuremlcore._data.transforms import select_items

        self._check_access()
        files = resolve(self._ws_handle(), self._definition["sources"])
        for op in self._definition.get("transforms", []):
            files = select_items(files, op)
        return files

    def to_path(self) -> list[str]:
        """The files' paths relative to the dataset's root folder, each starting with '/'."""
        return ["/" + f.rel for f in self._files()]

    def download(self, target_path: str | None = None, overwrite: bool = False,
                 ignore_not_found: bool = False) -> list[str]:
        """Copy the files into target_path (a new temporary folder when None); returns their local paths.

        Existing local files raise unless `overwrite=True`.
        """
        from azuremlcore._data.sources import materialise

        files = self._files()
        target = Path(target_path) if target_path else Path(tempfile.mkdtemp(prefix="azureml-dataset-"))
        if not overwrite:
            clash = [str(target / f.rel) for f in files if (target / f.rel).exists()]
            if clash:
                raise UserErrorException(f"download: {len(clash)} file(s) already exist, e.g. {clash[0]}. Pass "
                                         "overwrite=True to replace them.")
        return [str(p) for p in materialise(self._ws_handle(), files, target, overwrite=True,
                                            show_progress=len(files) > 20)]

    def mount(self, mount_point: str | None = None, **kwargs: Any) -> "MountContext":
        """A context manager making the files available as a folder: `with ds.mount() as ctx: ctx.mount_point`.

        There is no FUSE here: a whole folder of the embedded datastore is used in place; anything else is
        downloaded (to mount_point or a temporary folder removed on exit), with a warning saying so.
        """
        from azuremlcore._data.mounting import MountContext

        return MountContext(self._ws_handle(), self._definition, self._files, mount_point)

    def as_mount(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """This dataset mounted in a run (its folder on an embedded datastore, else a download)."""
        return self.as_named_input(None).as_mount(path_on_compute)  # type: ignore[arg-type]

    def as_download(self, path_on_compute: str | None = None) -> "DatasetConsumptionConfig":
        """This dataset downloaded into a run's working folder."""
        return self.as_named_input(None).as_download(path_on_compute)  # type: ignore[arg-type]

    def as_hdfs(self) -> Any:
        """Not available: there is no HDFS here."""
        raise UserErrorException("as_hdfs is not supported; use as_mount() or as_download().")

    # ------------------------------------------------------------------ selections
    def take(self, count: int) -> "FileDataset":
        """The first `count` files."""
        return self._derive({"op": "take", "count": int(count)})

    def skip(self, count: int) -> "FileDataset":
        """All files but the first `count`."""
        return self._derive({"op": "skip", "count": int(count)})

    def take_sample(self, probability: float, seed: int | None = None) -> "FileDataset":
        """Each file kept with the given probability (repeatable with a seed)."""
        return self._derive({"op": "sample", "probability": float(probability), "seed": seed})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple["FileDataset", "FileDataset"]:
        """Two datasets: about `percentage` of the files, and the rest (repeatable with a seed)."""
        if not 0 < percentage < 1:
            raise UserErrorException("random_split percentage must be between 0 and 1.")
        seed = seed if seed is not None else 0
        op = {"op": "split", "percentage": float(percentage), "seed": seed}
        return self._derive({**op, "part": 0}), self._derive({**op, "part": 1})
