"""``azureml.telemetry`` under the alias: the real SDK's diagnostics switches, as no-ops.

azuremlcore sends no diagnostics anywhere, so there is nothing to switch on or off; notebooks
that call ``set_diagnostics_collection(send_diagnostics=True)`` in their first cells run unchanged.
"""
from __future__ import annotations

import logging

__all__ = ["set_diagnostics_collection", "get_diagnostics_collection_info", "get_telemetry_log_handler"]


def set_diagnostics_collection(send_diagnostics: bool = True, verbose: bool = False, reset: bool = False,
                               path: str | None = None) -> None:
    """Accepted and ignored: azuremlcore collects no diagnostics."""


def get_diagnostics_collection_info(component_name: str | None = None, path: str | None = None) -> dict:
    """Always reports collection off (nothing is ever sent)."""
    return {"send_diagnostics": False, "verbosity": "NOTSET"}


def get_telemetry_log_handler(*args: object, **kwargs: object) -> logging.Handler:
    """A handler that drops every record."""
    return logging.NullHandler()
