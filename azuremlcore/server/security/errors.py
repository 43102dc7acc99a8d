"""The one error of the server's security checks: no valid token (401) or not the right (403)."""
from __future__ import annotations


class AuthError(Exception):
    """A request without a valid token (401) or without the right (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED"
