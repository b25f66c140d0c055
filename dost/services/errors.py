"""Domain errors raised by services; the request layer shows their message beside the field."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the operation; nothing was written."""

    status_code = 400

    def __init__(self, code: str, message: object, field: str | None = None):
        super().__init__(code)
        self.code = code
        self.message = message
        self.field = field


class ProviderUnavailable(DomainError):
    """An outside provider (the signing provider) did not answer; nothing was written, and trying later may work."""

    status_code = 503


class MultipleErrors(DomainError):
    """Several fields are wrong at once; the form shows each beside its field."""

    def __init__(self, errors: list[DomainError]):
        super().__init__("invalid", errors[0].message, errors[0].field)
        self.errors = errors


class NotFound(DomainError):
    """The object does not exist or is not visible to the actor (never tell which)."""

    status_code = 404

    def __init__(self, code: str = "not_found", message: object = "", field: str | None = None):
        super().__init__(code, message, field)


class Forbidden(DomainError):
    """The actor lacks the authority for this operation."""

    status_code = 403


class Conflict(DomainError):
    """Someone changed the object first (optimistic version check)."""

    status_code = 409
