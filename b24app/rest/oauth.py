"""OAuth token refresh through the OAuth server, one at a time per portal across threads and processes.

Docs: ``settings/oauth/auto-renewal.md`` (api-notes §1.4). Refresh only after ``expired_token``; every
refresh rotates the refresh token, so the new pair is saved (atomically, in one UPDATE) before anyone uses
it. A file lock beside the database makes the refresh single-flight; after taking it the installation is
read again, and if another process already rotated the token that token is used as is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from b24app.installations import ACTIVE, NEEDS_REAUTH, Installation, InstallationStore, audit
from b24app.logsafe import register_secret
from b24app.rest.codec import USER_AGENT, is_rest_endpoint
from b24app.rest.errors import AuthError, ReauthRequired, ServerError, TransportError, error_for
from b24app.rest.limiter import _key, file_lock, lock_dir, open_db

log = logging.getLogger(__name__)
DEFAULT_OAUTH_URL = "https://oauth.bitrix.info/oauth/token/"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: int
    client_endpoint: str | None
    member_id: str | None

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at}, client_endpoint={self.client_endpoint!r})"


def parse_token_response(status: int, payload: Any, now: float) -> TokenSet:
    """Read the OAuth server's answer (``{"access_token", "refresh_token", "expires"|"expires_in",
    "client_endpoint", "member_id", ...}``) or raise the matching error (``invalid_grant`` -> ReauthRequired)."""
    method = "oauth.token"
    if not isinstance(payload, Mapping):
        raise ServerError(status, "", "the OAuth server did not answer JSON", method)
    if payload.get("error"):
        raise error_for(status, str(payload["error"]), str(payload.get("error_description") or ""), method)
    access, refresh = payload.get("access_token"), payload.get("refresh_token")
    if not access or not refresh or status >= 400:
        raise ServerError(status, "", "the OAuth server answered without a token pair", method)
    if payload.get("expires"):
        expires_at = int(payload["expires"])
    else:
        expires_at = int(now + int(payload.get("expires_in") or 3600))
    endpoint = payload.get("client_endpoint")
    endpoint = endpoint if isinstance(endpoint, str) and is_rest_endpoint(endpoint) else None
    return TokenSet(str(access), str(refresh), expires_at, endpoint, payload.get("member_id") or None)


class TokenRefresher:
    """Refreshes one installation's tokens; safe to call from many threads and processes at once."""

    def __init__(self, config: Mapping[str, Any], session: requests.Session,
                 clock: Callable[[], float] = time.time):
        self.database = str(config.get("DATABASE") or ":memory:")
        self.oauth_url = config.get("OAUTH_URL") or DEFAULT_OAUTH_URL
        self.client_id = config.get("CLIENT_ID") or ""
        self.client_secret = config.get("CLIENT_SECRET") or ""
        self.timeout = (float(config.get("HTTP_CONNECT_TIMEOUT") or 5), float(config.get("HTTP_READ_TIMEOUT") or 70))
        self.session = session
        self.clock = clock
        register_secret(self.client_secret)

    def refresh(self, member_id: str, stale_access_token: str) -> Installation:
        """Return the installation with a working token pair (rotated here or by someone else)."""
        with file_lock(lock_dir(self.database) / f"oauth-{_key(member_id)}.lock"):
            database = open_db(self.database)
            try:
                return self._refresh_locked(InstallationStore(database), member_id, stale_access_token)
            finally:
                database.conn.close()

    def _refresh_locked(self, store: InstallationStore, member_id: str, stale: str) -> Installation:
        inst = _usable(store, member_id)
        if inst.access_token and inst.access_token != stale:
            log.debug("token of %s already rotated by another worker", member_id)
            return inst
        try:
            tokens = self._request(inst.refresh_token)
        except ReauthRequired:
            again = _usable(store, member_id)
            if again.refresh_token != inst.refresh_token and again.access_token != stale:
                log.info("refresh of %s refused but the store has a newer pair; using it", member_id)
                return again
            store.set_status(member_id, NEEDS_REAUTH)
            audit(store.db, member_id, "oauth.needs_reauth")
            log.warning("refresh token of %s rejected (invalid_grant); installation needs re-authorisation",
                        member_id)
            raise
        if tokens.member_id and tokens.member_id != member_id:
            raise AuthError(0, "MEMBER_MISMATCH", "the OAuth server answered for another portal", "oauth.token")
        register_secret(tokens.access_token, tokens.refresh_token)
        store.save_tokens(member_id, tokens.access_token, tokens.refresh_token, tokens.expires_at,
                          client_endpoint=tokens.client_endpoint)
        log.info("refreshed tokens of %s (valid until %s)", member_id, tokens.expires_at)
        saved = store.find(member_id)
        assert saved is not None
        return saved

    def _request(self, refresh_token: str) -> TokenSet:
        params = {"grant_type": "refresh_token", "client_id": self.client_id,
                  "client_secret": self.client_secret, "refresh_token": refresh_token}
        started = self.clock()
        try:
            response = self.session.get(self.oauth_url, params=params, timeout=self.timeout,
                                        headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        except requests.RequestException as exc:
            raise TransportError(0, "CONNECTION_ERROR", type(exc).__name__, "oauth.token") from None
        log.debug("GET oauth.token -> HTTP %s in %.3fs", response.status_code, self.clock() - started)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return parse_token_response(response.status_code, payload, self.clock())


def require_active(inst: Installation | None, method: str = "") -> Installation:
    """A known installation whose tokens may be used: not uninstalled, not waiting for re-authorisation."""
    if inst is None:
        raise AuthError(0, "NO_INSTALLATION", "no installation with this member_id", method)
    if inst.status == NEEDS_REAUTH:
        raise ReauthRequired(0, "invalid_grant", "the installation needs re-authorisation", method)
    if inst.status != ACTIVE:
        raise AuthError(0, "APP_UNINSTALLED", "the app is not installed on this portal", method)
    return inst


def _usable(store: InstallationStore, member_id: str) -> Installation:
    inst = require_active(store.find(member_id), "oauth.token")
    register_secret(inst.access_token, inst.refresh_token, inst.application_token)
    return inst
