"""Exceptions with the names Azure ML v1 code catches (``azureml.exceptions``).

Every error says what went wrong and what to do about it; catching the real SDK's exception
names (``except ComputeTargetException:``, ``except UserErrorException:``) keeps working.
"""
from __future__ import annotations


class AzureMLException(Exception):
    """Base of every error this SDK raises on purpose."""

    def __init__(self, exception_message: str = "", inner_exception: BaseException | None = None, **kwargs: object) -> None:
        super().__init__(exception_message)
        self.message = exception_message
        self.inner_exception = inner_exception


class UserErrorException(AzureMLException):
    """The call's arguments or the state it asks for are wrong; the message says how to fix them."""


class ProjectSystemException(AzureMLException):
    """A workspace could not be found, created or read."""


class WorkspaceException(AzureMLException):
    """A workspace operation failed."""


class AuthenticationException(AzureMLException):
    """Credentials were missing, wrong or expired."""


class ExperimentExecutionException(AzureMLException):
    """A run could not be started, tracked or finished."""


class ActivityFailedException(AzureMLException):
    """A run ended Failed (raised by ``wait_for_completion(raise_on_error=True)``)."""

    def __init__(self, error_details: object = None, exception_message: str | None = None) -> None:
        msg = exception_message or f"Activity Failed:\n{error_details}"
        super().__init__(msg)
        self.error_details = error_details


class RunEnvironmentException(AzureMLException):
    """The code runs where no run context exists (only raised when ``allow_offline=False``)."""


class ComputeTargetException(AzureMLException):
    """A compute target is missing, or could not be created or used."""


class SnapshotException(AzureMLException):
    """A run's source snapshot could not be taken or restored."""


class ModelNotFoundException(AzureMLException):
    """No registered model has that name (and version)."""


class WebserviceException(AzureMLException):
    """A web service could not be deployed, called or deleted."""


class ServiceException(AzureMLException):
    """The workspace server answered with an error."""

    def __init__(self, message: str = "", status_code: int | None = None, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code


class DatasetException(AzureMLException):
    """A dataset could not be created, registered or read."""


class DatasetTimestampMissingError(DatasetException):
    """A time-series filter was used on a dataset that has no timestamp column."""


class MetricValueError(UserErrorException):
    """A metric value cannot be logged (wrong type, not finite where it must be, too large)."""


__all__ = [n for n in dir() if n.endswith("Exception") or n.endswith("Error")]
