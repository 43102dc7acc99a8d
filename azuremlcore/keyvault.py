"""Keyvault: the workspace's secrets, standing in for Azure Key Vault (`ws.get_default_keyvault()`)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.workspace import Workspace

_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


def _check(name: str) -> str:
    if not isinstance(name, str) or not _SECRET_NAME.match(name):
        raise UserErrorException(f"Invalid secret name {name!r}: use 1 to 127 letters, digits and '-' (Key Vault's rule).")
    return name


class Keyvault:
    """Secrets of a workspace: readable by the workspace's users and by its runs (`run.get_secret`)."""

    def __init__(self, workspace: "Workspace") -> None:
        self.workspace = workspace

    def set_secret(self, name: str, value: str, content_type: Any = None) -> None:
        """Add or overwrite a secret."""
        self.workspace._store.set_secrets(self.workspace._ws_id, {_check(name): str(value)})

    def set_secrets(self, secrets_batch: dict[str, str]) -> None:
        """Add or overwrite several secrets at once."""
        self.workspace._store.set_secrets(self.workspace._ws_id, {_check(k): str(v) for k, v in secrets_batch.items()})

    def get_secret(self, name: str) -> str:
        """A secret's value; a missing name raises UserErrorException."""
        value = self.workspace._store.get_secrets(self.workspace._ws_id, [_check(name)])[name]
        if value is None:
            raise UserErrorException(f"Secret '{name}' does not exist; set it with ws.get_default_keyvault().set_secret().")
        return value

    def get_secrets(self, secrets: list[str]) -> dict[str, str | None]:
        """Values by name (None where a secret is missing)."""
        return self.workspace._store.get_secrets(self.workspace._ws_id, [_check(n) for n in secrets])

    def list_secrets(self) -> list[dict[str, str]]:
        """The secrets' names as [{'name': ...}] (values are never listed)."""
        return [{"name": n} for n in self.workspace._store.list_secrets(self.workspace._ws_id)]

    def delete_secret(self, name: str) -> None:
        """Delete a secret."""
        self.workspace._store.delete_secret(self.workspace._ws_id, _check(name))
