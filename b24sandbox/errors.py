"""REST errors as Bitrix24 reports them: a code, a description and an HTTP status.

_includes/system-errors.md (the codes and HTTP statuses of every method); each method's page for its own.
"""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    """A REST answer ``{"error": code, "error_description": description}`` with an HTTP status."""

    def __init__(self, code: str, description: str = "", status: int = 400, **extra: Any):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


def no_auth() -> RestError:
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def expired_token() -> RestError:
    return RestError("expired_token", "The access token provided has expired.", 401)


def insufficient_scope() -> RestError:
    return RestError("insufficient_scope",
                     "The request requires higher privileges than provided by the access token", 403)


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def wrong_auth_type() -> RestError:
    return RestError("WRONG_AUTH_TYPE", "Current authorization type is denied for this method", 403)


def access_denied(description: str = "Access denied", status: int = 400) -> RestError:
    return RestError("ACCESS_DENIED", description, status)


def not_found(description: str = "Not found") -> RestError:
    return RestError("NOT_FOUND", description, 400)


def query_limit() -> RestError:
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit() -> RestError:
    return RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


def internal_error() -> RestError:
    return RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)


def argument_error(argument: str, status: int = 400) -> RestError:
    return RestError("ERROR_ARGUMENT", f"Argument '{argument}' is null or empty", status, argument=argument)


def required_param(name: str) -> RestError:
    """The error `crm.*` methods give for a missing required parameter (crm-type-add.md: code 100)."""
    return RestError("100", f"Could not find value for parameter {{{name}}}", 400)
