"""Who is calling: an app's OAuth access token, an inbound webhook, or a person in the shell.

settings/how-to-call-rest-api/authorization.md; local-integrations/local-webhooks.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from b24sandbox import errors
from b24sandbox.store import Store

ALL_SCOPES = frozenset({"crm", "user", "user_brief", "user_basic", "placement", "userfieldconfig", "im",
                        "basic", "entity", "task", "department", "log", "calendar", "disk", "bizproc"})


@dataclass(frozen=True)
class Webhook:
    """An inbound webhook path ``/rest/{user_id}/{code}/``."""

    user_id: int
    code: str


@dataclass(frozen=True)
class UserSession:
    """A person using the portal shell (not an app): full access within the user's CRM rights."""

    user_id: int


@dataclass
class AuthContext:
    kind: str                      # "oauth" | "webhook" | "user"
    user_id: int
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str | None = None
    access_token: str | None = None
    webhook_code: str | None = None

    @property
    def operating_key(self) -> str:
        if self.client_id:
            return self.client_id
        if self.kind == "webhook":
            return f"webhook:{self.user_id}:{self.webhook_code}"
        return f"user:{self.user_id}"

    def has_scope(self, scope: str, alt: tuple[str, ...] = ()) -> bool:
        if scope == "basic" or self.kind == "user":
            return True
        return scope in self.scopes or any(s in self.scopes for s in alt)


def parse_scopes(value: str | list[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = value if isinstance(value, list) else str(value).replace(" ", ",").split(",")
    return frozenset(s.strip() for s in items if s and s.strip())


def resolve(store: Store, auth: object) -> AuthContext:
    """An AuthContext for the caller, or RestError (NO_AUTH_FOUND / expired_token, 401)."""
    if isinstance(auth, UserSession):
        return AuthContext("user", auth.user_id, ALL_SCOPES)
    if isinstance(auth, Webhook):
        rows = store.rows("SELECT scopes FROM webhooks WHERE user_id = ? AND code = ?", [auth.user_id, auth.code])
        if not rows or store.doc("users", auth.user_id) is None:
            raise errors.no_auth()
        return AuthContext("webhook", auth.user_id, parse_scopes(rows[0]["scopes"]), webhook_code=auth.code)
    if not auth or not isinstance(auth, str):
        raise errors.no_auth()
    rows = store.rows("SELECT * FROM tokens WHERE access_token = ?", [auth])
    if not rows or rows[0]["revoked"] == 2:
        raise errors.no_auth()
    row = rows[0]
    if row["access_expires"] <= time.time():
        raise errors.expired_token()
    app = store.doc("apps", row["client_id"])
    if app is None or app.get("uninstalled"):
        raise errors.no_auth()
    return AuthContext("oauth", row["user_id"], parse_scopes(app["scopes"]), client_id=row["client_id"],
                       access_token=auth)
