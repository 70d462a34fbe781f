"""The REST client's exception tree: HTTP status, Bitrix24 error code, description and method.

Codes and statuses: ``_includes/system-errors.md``, ``settings/oauth/error-codes.md``.
Messages never carry tokens: descriptions pass through :func:`b24app.logsafe.redact` and no request
parameter, URL or token is ever part of an error.
"""

from __future__ import annotations

from b24app.logsafe import redact


class B24Error(Exception):
    """A Bitrix24 call failed. ``status`` is the HTTP status (0 when no answer came)."""

    def __init__(self, status: int = 0, code: str = "", description: str = "", method: str = ""):
        self.status = int(status or 0)
        self.code = code or ""
        self.description = redact(description or "")[:500]
        self.method = method or ""
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [self.method or "?"]
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        return f"{text}: {self.description}" if self.description else text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
                f"description={self.description!r}, method={self.method!r})")

    def __reduce__(self):  # picklable across processes with the same fields
        return (type(self), (self.status, self.code, self.description, self.method))


class AuthError(B24Error):
    """The token or webhook is not accepted (401 ``expired_token``, ``NO_AUTH_FOUND``, ``invalid_token``...)."""


class ReauthRequired(AuthError):
    """The refresh token is no longer valid (``invalid_grant``): an admin must open the app again."""


class AccessDenied(B24Error):
    """The user or app lacks rights or scope (``ACCESS_DENIED``, ``insufficient_scope``...)."""


class NotFound(B24Error):
    """The object does not exist (``NOT_FOUND``)."""


class MethodNotFound(B24Error):
    """The portal does not know the method (``ERROR_METHOD_NOT_FOUND``)."""


class RateLimited(B24Error):
    """503 ``QUERY_LIMIT_EXCEEDED``: the portal's leaky bucket is full; retried with backoff."""


class OperationTimeLimit(B24Error):
    """429 ``OPERATION_TIME_LIMIT``: the method spent its execution-time budget; ``reset_at`` says when
    it is usable again (unix time, 0 when unknown)."""

    def __init__(self, status: int = 429, code: str = "OPERATION_TIME_LIMIT", description: str = "",
                 method: str = "", reset_at: float = 0.0):
        self.reset_at = float(reset_at or 0.0)
        super().__init__(status, code, description, method)

    def __reduce__(self):
        return (type(self), (self.status, self.code, self.description, self.method, self.reset_at))


class Overloaded(B24Error):
    """503 ``OVERLOAD_LIMIT``: Bitrix24 support blocked REST for the portal; never retried."""


class ServerError(B24Error):
    """5xx, ``INTERNAL_SERVER_ERROR``, ``PORTAL_DELETED`` or an answer that is not JSON (proxy pages)."""


class TransportError(B24Error):
    """No usable HTTP answer: connection refused, DNS, TLS, timeout."""


class BadRequest(B24Error):
    """Any other error the portal reports (bad parameters, validation messages, empty error codes)."""


AUTH_CODES = {"expired_token", "no_auth_found", "invalid_token", "invalid_client", "wrong_client",
              "authorization_error"}
ACCESS_CODES = {"access_denied", "insufficient_scope", "invalid_scope", "invalid_credentials",
                "user_access_error", "wrong_auth_type", "allowed_only_intranet_user", "payment_required"}
SERVER_CODES = {"internal_server_error", "error_unexpected_answer", "portal_deleted", "error_core"}
NOT_FOUND_CODES = {"not_found", "error_not_found", "entity_not_found"}
METHOD_NOT_FOUND_CODES = {"error_method_not_found", "method_not_found"}


def error_for(status: int, code: str, description: str = "", method: str = "",
              reset_at: float = 0.0) -> B24Error:
    """Map an HTTP status and a Bitrix24 ``error`` code to the matching exception (classify by code first)."""
    low = (code or "").lower()
    if low == "query_limit_exceeded":
        return RateLimited(status, code, description, method)
    if low == "operation_time_limit":
        return OperationTimeLimit(status, code, description, method, reset_at=reset_at)
    if low == "overload_limit":
        return Overloaded(status, code, description, method)
    if low == "invalid_grant":
        return ReauthRequired(status, code, description, method)
    if low in AUTH_CODES:
        return AuthError(status, code, description, method)
    if low in ACCESS_CODES:
        return AccessDenied(status, code, description, method)
    if low in METHOD_NOT_FOUND_CODES:
        return MethodNotFound(status, code, description, method)
    if low in NOT_FOUND_CODES:
        return NotFound(status, code, description, method)
    if low in SERVER_CODES or status >= 500:
        return ServerError(status, code, description, method)
    if status == 401:
        return AuthError(status, code, description, method)
    if status == 403:
        return AccessDenied(status, code, description, method)
    if status == 404:
        return NotFound(status, code, description, method)
    return BadRequest(status, code, description, method)
