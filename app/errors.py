"""Domain errors. Services raise these; one handler in app.api maps them to HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the API turns into a clear 4xx answer."""

    status_code = 400
    code = "bad_request"
    # Extra response headers the HTTP edge sends with this error.
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class MalformedBody(DomainError):
    status_code = 400
    code = "malformed_body"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class ServiceUnavailable(DomainError):
    """The store cannot take the request now; clients (the OpenLineage one included) retry."""

    status_code = 503
    code = "unavailable"
    headers = {"Retry-After": "1"}
