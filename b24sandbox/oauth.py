"""The OAuth stand-in for oauth.bitrix.info: token issue and refresh with rotation.

settings/oauth/auto-renewal.md: ``/oauth/token/?grant_type=refresh_token&client_id&client_secret&refresh_token``;
every refresh returns a new refresh token and the old one stops working (``invalid_grant``).
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from b24sandbox.store import Store

REFRESH_LIFETIME = 180 * 24 * 3600

# token rows: revoked 0 = live, 1 = refresh token used (access token still valid until it expires),
# 2 = dead (uninstall)


def issue(store: Store, client_id: str, user_id: int, lifetime: int) -> dict[str, Any]:
    now = time.time()
    row = {
        "access_token": secrets.token_hex(35),
        "refresh_token": secrets.token_hex(35),
        "client_id": client_id,
        "user_id": int(user_id),
        "access_expires": now + lifetime,
        "refresh_expires": now + REFRESH_LIFETIME,
        "revoked": 0,
    }
    store.db["tokens"].insert(row)
    return row


def token_response(row: dict[str, Any], app: dict[str, Any], member_id: str, client_endpoint: str,
                   server_endpoint: str, lifetime: int, with_user: bool = True) -> dict[str, Any]:
    body = {
        "access_token": row["access_token"],
        "client_endpoint": client_endpoint,
        "domain": "oauth.sandbox.local",
        "expires": int(row["access_expires"]),
        "expires_in": lifetime,
        "member_id": member_id,
        "refresh_token": row["refresh_token"],
        "scope": app["scopes"],
        "server_endpoint": server_endpoint,
        "status": "L",
        "user_id": row["user_id"],
    }
    if not with_user:
        body.pop("expires")
        body.pop("user_id")
    return body


def refresh(store: Store, params: dict[str, Any], lifetime: int, member_id: str, client_endpoint: str,
            server_endpoint: str) -> tuple[int, dict[str, Any]]:
    """Answer one ``/oauth/token/`` request."""
    grant = str(params.get("grant_type") or "")
    client_id = str(params.get("client_id") or "")
    secret = str(params.get("client_secret") or "")
    if grant != "refresh_token":
        if grant == "authorization_code":
            return 400, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
        return 400, {"error": "invalid_request", "error_description": "Unsupported grant_type"}
    if not client_id or not secret or not params.get("refresh_token"):
        return 400, {"error": "invalid_request", "error_description": "Missing required parameter"}
    app = store.doc("apps", client_id)
    if app is None or not hmac.compare_digest(app["client_secret"], secret) or app.get("uninstalled"):
        return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
    rows = list(store.db["tokens"].rows_where("refresh_token = ? and client_id = ?",
                                              [str(params["refresh_token"]), client_id]))
    if not rows or rows[0]["revoked"] != 0 or rows[0]["refresh_expires"] <= time.time():
        return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    store.db["tokens"].update(rows[0]["access_token"], {"revoked": 1})
    row = issue(store, client_id, rows[0]["user_id"], lifetime)
    return 200, token_response(row, app, member_id, client_endpoint, server_endpoint, lifetime)


def expire_all(store: Store) -> int:
    """Every current access token expires now (refresh tokens stay usable)."""
    now = time.time()
    return store.db.execute("UPDATE tokens SET access_expires = ? WHERE access_expires > ?",
                            [now - 1, now]).rowcount


def revoke_app(store: Store, client_id: str) -> None:
    store.db.execute("UPDATE tokens SET revoked = 2 WHERE client_id = ?", [client_id])
