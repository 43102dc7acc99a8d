"""Experiment: a named group of runs in a workspace; where runs are started and submitted."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.records import ExperimentRecord
    from azuremlcore.run import Run
    from azuremlcore.workspace import Workspace

_NAME = re.compile(r"^[a-zA-Z0-9][\w-]{0,254}$")
VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")


def check_experiment_name(name: object) -> str:
    """The name, or a UserErrorException with Azure ML's rule."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"Invalid experiment name {name!r}: an experiment name has 1 to 255 characters, starts with a letter "
            "or digit, and holds only letters, digits, '_' and '-'.")
    return name


class Experiment:
    """The experiment of that name in a workspace, created on first use (as in Azure ML).

    `start_logging()` starts an interactive run; `submit(config)` runs a `ScriptRunConfig`;
    `get_runs()` lists runs newest first.
    """

    DELIM = "/"
    WORKSPACE_FMT = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}"
    EXPERIMENT_ID_PATH = "experimentids"
    EXPERIMENT_NAME_PATH = "experiments"
    TID_FMT = "&tid={}"

    def __init__(self, workspace: "Workspace", name: str, _skip_name_validation: bool = False, _id: str | None = None,
                 _archived_time: Any = None, _create_in_cloud: bool = True, _experiment_dto: Any = None,
                 **kwargs: Any) -> None:
        if not _skip_name_validation:
            check_experiment_name(name)
        self._workspace = workspace
        store = workspace._store
        if _id is not None:
            self._record = store.get_experiment(workspace._ws_id, experiment_id=_id)
        elif _create_in_cloud:
            self._record = store.get_or_create_experiment(workspace._ws_id, name)
        else:
            self._record = store.get_experiment(workspace._ws_id, name=name)

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: "ExperimentRecord") -> "Experiment":
        exp = cls.__new__(cls)
        exp._workspace, exp._record = workspace, record
        return exp

    # ------------------------------------------------------------------ properties
    @property
    def workspace(self) -> "Workspace":
        """The workspace that holds the experiment."""
        return self._workspace

    @property
    def workspace_object(self) -> "Workspace":
        """(Deprecated) The workspace that holds the experiment."""
        return self._workspace

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self._record.name

    @property
    def id(self) -> str:
        """The experiment's id (also its MLflow experiment id)."""
        return self._record.id

    @property
    def archived_time(self) -> str | None:
        """When the experiment was archived (ISO text), None while it is active."""
        from azuremlcore._timeutil import iso

        return iso(self._record.archived_time)

    @property
    def tags(self) -> dict[str, str]:
        """The experiment's tags."""
        return dict(self._record.tags)

    @property
    def identity(self) -> str:
        """A readable identity: workspace and experiment names."""
        return f"{self._workspace.name}/{self.name}"

    @property
    def portal_url(self) -> str:
        """Where to look at this experiment (see `get_portal_url`)."""
        return self.get_portal_url()

    def get_portal_url(self) -> str:
        """The experiment's runs table in the web view: on the workspace's server, or `aml studio` when embedded.

        For an embedded workspace: the running `aml studio` of its home folder, else the studio's default
        address (http://127.0.0.1:8765), which opens once `aml studio` is started.
        """
        ws = self._workspace
        return f"{ws._web_base()}/ui/workspaces/{ws._ws_id}/experiments/{self.id}"

    @classmethod
    def get_docs_url(cls) -> str:
        """Documentation of this class."""
        return "https://github.com/azuremlcore/azuremlcore/blob/main/docs/api.md#experiment"

    # ------------------------------------------------------------------ runs
    def start_logging(self, *args: Any, **kwargs: Any) -> "Run":
        """Start an interactive run (status Running) and return it; use as a context manager to complete it.

        Keyword arguments: `outputs` (folder uploaded on complete, default './outputs', created now as in
        a submitted run so that `outputs/model.pkl` can be written at once; False tracks none),
        `snapshot_directory` (folder saved as the run's snapshot), `display_name`, `tags`.
        """
        import os

        from azuremlcore.run import Run

        run = Run._start(self, **kwargs)
        if run._outputs:
            os.makedirs(run._outputs, exist_ok=True)
        return run

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> "Run":
        """Submit a `ScriptRunConfig` (or RunConfiguration-based config) and return its run at once."""
        try:
            from azuremlcore._submission import submit
        except ImportError as exc:
            raise UserErrorException("Submitting runs is not available in this installation.") from exc
        return submit(self, config, tags=tags, **kwargs)

    def get_runs(self, type: str | None = None, tags: str | dict | list | None = None,
                 properties: str | dict | list | None = None, include_children: bool = False) -> Iterator["Run"]:
        """Runs newest first, filtered by type, tags and properties (a key, a list of keys, or a dict of key: value)."""
        from azuremlcore.run import Run

        return Run.list(self, type=type, tags=tags, properties=properties, include_children=include_children)

    # ------------------------------------------------------------------ lifecycle
    def archive(self) -> None:
        """Archive the experiment: hidden from `Experiment.list` (ActiveOnly) until reactivated."""
        self._record = self._workspace._store.update_experiment(self.id, archived=True)

    def reactivate(self, new_name: str | None = None) -> None:
        """Reactivate an archived experiment, optionally under a new name (needed if the name was reused)."""
        if new_name is not None:
            check_experiment_name(new_name)
        self._record = self._workspace._store.update_experiment(self.id, archived=False, name=new_name)

    def refresh(self) -> None:
        """Reload the experiment's name, tags and archive state from the store."""
        self._record = self._workspace._store.get_experiment(self._workspace._ws_id, experiment_id=self.id)

    @staticmethod
    def delete(workspace: "Workspace", experiment_id: str) -> None:
        """Delete an experiment with all its runs, metrics and files. Cannot be undone."""
        run_ids = workspace._store.delete_experiment(experiment_id)
        for run_id in run_ids:
            workspace._artifacts.delete(f"{workspace._ws_id}/runs/{run_id}")

    @staticmethod
    def list(workspace: "Workspace", experiment_name: str | None = None, view_type: str = "ActiveOnly",
             tags: str | dict | list | None = None) -> list["Experiment"]:
        """Experiments of the workspace; view_type is 'ActiveOnly', 'ArchivedOnly' or 'All'."""
        if view_type not in VIEW_TYPES:
            raise UserErrorException(f"view_type must be one of {', '.join(VIEW_TYPES)}, got {view_type!r}.")
        from azuremlcore.run import matches_filter

        records = workspace._store.list_experiments(workspace._ws_id, view_type, experiment_name)
        return [Experiment._from_record(workspace, r) for r in records if matches_filter(r.tags, tags)]

    @staticmethod
    def from_directory(path: str, auth: Any = None) -> "Experiment":
        """(Deprecated) Not available: Azure ML project folders are not used; use Experiment(ws, name)."""
        raise UserErrorException("Experiment.from_directory is deprecated and not supported: "
                                 "use Experiment(Workspace.from_config(), name).")

    # ------------------------------------------------------------------ tags
    def tag(self, key: str, value: str | None = None) -> None:
        """Set one tag (value '' when omitted)."""
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Add or overwrite tags; others are left as they are."""
        self._workspace._store.set_experiment_tags(self.id, {str(k): str(v) for k, v in tags.items()})
        self.refresh()

    def remove_tags(self, tags: list[str]) -> None:
        """Remove tags by key."""
        self._workspace._store.remove_experiment_tags(self.id, list(tags))
        self.refresh()

    def _repr_html_(self) -> str:
        """The table a notebook shows for this experiment (with a link to its page)."""
        from azuremlcore._html_repr import experiment_html

        return experiment_html(self)

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name},\nWorkspace: {self._workspace.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)
