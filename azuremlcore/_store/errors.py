"""Errors every store backend raises, each with the MLflow error code and HTTP status it maps to."""
from __future__ import annotations

from azuremlcore.exceptions import UserErrorException


class StoreError(UserErrorException):
    """Base of store errors; `error_code`/`http_status` let the server and the MLflow bridge answer in kind."""

    error_code = "INTERNAL_ERROR"
    http_status = 500


class NotFoundError(StoreError):
    """The workspace, experiment, run, asset or file does not exist."""

    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class AlreadyExistsError(StoreError):
    """Something with that name already exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class InvalidValueError(StoreError):
    """A value breaks a rule (write-once property changed, bad name, limit exceeded)."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
