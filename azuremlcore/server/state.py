"""What a running server holds: the store, the artifact root, identities, its signing key."""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from azuremlcore._config import arm_id
from azuremlcore.server.config import ServerConfig
from azuremlcore.server.security.authz import AuthError, Authenticator, Principal, READ, WRITE

if TYPE_CHECKING:
    from azuremlcore._store.records import WorkspaceRecord
    from azuremlcore.server._ingest import WriteBehind

_RUN_CACHE = 100_000


class ServerState:
    """The shared objects every request handler uses."""

    def __init__(self, config: ServerConfig) -> None:
        from azuremlcore._store.artifacts import FileArtifactStore
        from azuremlcore._store.sql import SqlWorkspaceStore
        from azuremlcore.server.security.azure_ad import AzureAdValidator
        from azuremlcore.server.security.identity import IdentityStore
        from azuremlcore.server.security.keys import SigningKey

        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqlWorkspaceStore(config.database_url)
        self.artifacts = FileArtifactStore(config.artifacts_dir)
        self.identity = IdentityStore(self.store._engine)
        self.key = SigningKey(config.data_dir)
        aad = AzureAdValidator(config.azure_tenant, config.azure_audience, config.azure_authority_host) \
            if config.azure_tenant else None
        self.auth = Authenticator(self.key, self.identity, aad)
        self._lock = threading.Lock()
        self._workspaces: dict[str, "WorkspaceRecord"] = {}
        # run id -> (workspace id, parent id): both never change, so checks need no query after the first.
        self._runs: "OrderedDict[str, tuple[str, str | None]]" = OrderedDict()
        # The metric write-behind (server._ingest), when on: set by create_app.
        self.ingest: "WriteBehind | None" = None

    def close(self) -> None:
        """Store the metrics the write-behind holds, then release database connections."""
        if self.ingest is not None:
            self.ingest.close()
        ahead = sys.modules.get("azuremlcore.server._history_ahead")  # loaded with the MLflow routes
        if ahead is not None:
            ahead.forget(self.store)  # no page read ahead from a closed store
        self.store.close()

    # ------------------------------------------------------------------ lookups
    def workspace(self, sub: str, rg: str, name: str) -> "WorkspaceRecord | None":
        """The workspace at these coordinates (cached), or None."""
        key = arm_id(sub, rg, name).lower()
        rec = self._workspaces.get(key)
        if rec is None:
            found = self.store.find_workspace(sub, rg, name)  # without regard to case, as Azure names are
            if not found:
                return None
            # One match, but for a database from before names were unique without case: the exact spelling wins.
            rec = next((w for w in found if (w.subscription_id, w.resource_group, w.name) == (sub, rg, name)), found[0])
            with self._lock:
                self._workspaces[key] = rec
        return rec

    def forget_workspace(self, sub: str, rg: str, name: str) -> None:
        """Drop a cached workspace after it changed or was deleted."""
        with self._lock:
            self._workspaces.pop(arm_id(sub, rg, name).lower(), None)

    def run_owner(self, run_id: str) -> tuple[str, str | None] | None:
        """(workspace id, parent id) of a run, or None when it does not exist."""
        hit = self._runs.get(run_id)
        if hit is not None:
            return hit
        from azuremlcore._store.errors import NotFoundError

        try:
            rec = self.store.get_run(run_id)
        except NotFoundError:
            return None
        self.remember_run(rec.id, rec.workspace_id, rec.parent_id)
        return rec.workspace_id, rec.parent_id

    def remember_run(self, run_id: str, workspace_id: str, parent_id: str | None) -> None:
        """Cache a run's owner (called when runs are created or read)."""
        with self._lock:
            self._runs[run_id] = (workspace_id, parent_id)
            if len(self._runs) > _RUN_CACHE:
                self._runs.popitem(last=False)

    def forget_runs(self, run_ids: list[str]) -> None:
        """Drop deleted runs from the cache."""
        with self._lock:
            for r in run_ids:
                self._runs.pop(r, None)

    # ------------------------------------------------------------------ checks
    def check_run_write(self, principal: Principal, ws: "WorkspaceRecord", run_id: str) -> None:
        """Raise unless the principal may write run_id, which must belong to ws (404 otherwise)."""
        from azuremlcore._store.errors import NotFoundError

        owner = self.run_owner(run_id)
        if owner is None or owner[0] != ws.id:
            raise NotFoundError(f"Run {run_id} does not exist in workspace '{ws.name}'.")
        if principal.kind == "run":
            if run_id != principal.run_id and owner[1] != principal.run_id:
                raise AuthError(403, "A run token may write only its own run (and its child runs).")
            return
        self.auth.require(principal, arm_id(ws.subscription_id, ws.resource_group, ws.name), ws.id, WRITE)

    def check_run_read(self, principal: Principal, ws: "WorkspaceRecord", run_id: str) -> None:
        """Raise unless run_id belongs to ws (404); the caller has already been checked for Reader."""
        from azuremlcore._store.errors import NotFoundError

        owner = self.run_owner(run_id)
        if owner is None or owner[0] != ws.id:
            raise NotFoundError(f"Run {run_id} does not exist in workspace '{ws.name}'.")

    def issue_run_token(self, run_id: str, lifetime_s: int | None = None, issuer: str = "azuremlcore") -> tuple[str, int]:
        """A token that can read the run's workspace and write only that run (and its children)."""
        owner = self.run_owner(run_id)
        if owner is None:
            from azuremlcore._store.errors import NotFoundError

            raise NotFoundError(f"Run {run_id} does not exist.")
        return self.key.issue(f"run:{run_id}", lifetime_s or self.config.run_token_lifetime_s, issuer,
                              kind="run", run_id=run_id, ws=owner[0])


def issue_run_token(run_id: str, workspace_id: str, data_dir: str, lifetime_s: int = 4 * 3600) -> str:
    """A run-scoped bearer token signed with the server key in data_dir (for the runner on the server host).

    The token reads the run's workspace and writes only that run and its child runs; it expires
    after lifetime_s, and the run can renew it with `POST <workspace>/runs/<run id>/token`.
    """
    from pathlib import Path

    from azuremlcore.server.security.keys import SigningKey

    token, _ = SigningKey(Path(data_dir)).issue(f"run:{run_id}", lifetime_s, "azuremlcore", kind="run",
                                                run_id=run_id, ws=workspace_id)
    return token


__all__ = ["ServerState", "issue_run_token", "READ", "WRITE"]
