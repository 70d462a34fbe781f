"""OAuth token refresh through the OAuth server, one at a time per portal across threads and processes.

Docs: ``settings/oauth/auto-renewal.md``. ``exchange_refresh_token`` is the one call to the OAuth server
(``grant_type=refresh_token``): the installer uses it to learn which portal and user an install POST is for,
the refresher to rotate stored tokens. Refresh only after ``expired_token``; every
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
from b24app.rest.limiter import open_db
from b24app.storage import portal_key

log = logging.getLogger(__name__)
DEFAULT_OAUTH_URL = "https://oauth.bitrix.info/oauth/token/"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: int
    client_endpoint: str | None
    member_id: str | None
    user_id: int | None = None
    scope: str = ""
    server_endpoint: str = ""

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
    user_id = str(payload.get("user_id") or "")
    return TokenSet(str(access), str(refresh), expires_at, endpoint, str(payload.get("member_id") or "") or None,
                    user_id=int(user_id) if user_id.isdigit() else None, scope=str(payload.get("scope") or ""),
                    server_endpoint=str(payload.get("server_endpoint") or ""))


def exchange_refresh_token(config: Mapping[str, Any], refresh_token: str, session: requests.Session | None = None,
                           clock: Callable[[], float] = time.time) -> TokenSet:
    """``grant_type=refresh_token`` at the configured OAuth server with our client id and secret.

    Redirects are not followed (the secret goes only to the configured server). Raises TransportError
    when the server cannot be reached, the error of its answer (``invalid_grant`` -> ReauthRequired), or
    ServerError (code "") when it answers no token pair.
    """
    secret = str(config.get("CLIENT_SECRET") or "")
    register_secret(secret, refresh_token)
    params = {"grant_type": "refresh_token", "client_id": str(config.get("CLIENT_ID") or ""),
              "client_secret": secret, "refresh_token": refresh_token}
    timeout = (float(config.get("HTTP_CONNECT_TIMEOUT") or 5), float(config.get("HTTP_READ_TIMEOUT") or 70))
    started = clock()
    try:
        get = session.get if session is not None else requests.get
        response = get(str(config.get("OAUTH_URL") or DEFAULT_OAUTH_URL), params=params, timeout=timeout,
                       allow_redirects=False, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    except requests.RequestException as exc:
        raise TransportError(0, "CONNECTION_ERROR", type(exc).__name__, "oauth.token") from None
    log.debug("GET oauth.token -> HTTP %s in %.3fs", response.status_code, clock() - started)
    try:
        payload = response.json()
    except ValueError:
        payload = None
    tokens = parse_token_response(response.status_code, payload, clock())
    register_secret(tokens.access_token, tokens.refresh_token)
    return tokens


class TokenRefresher:
    """Refreshes one installation's tokens; safe to call from many threads and processes at once."""

    def __init__(self, config: Mapping[str, Any], session: requests.Session,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.database = str(config.get("DATABASE") or ":memory:")
        self.session = session
        self.clock = clock
        register_secret(str(config.get("CLIENT_SECRET") or ""))

    def refresh(self, member_id: str, stale_access_token: str) -> Installation:
        """Return the installation with a working token pair (rotated here or by someone else)."""
        database = open_db(self.database)
        # One refresh per portal at a time: across this host's processes on SQLite, every machine on PostgreSQL.
        with database.lock(f"oauth-{portal_key(member_id)}"):
            try:
                return self._refresh_locked(InstallationStore(database), member_id, stale_access_token)
            finally:
                database.close()

    def confirm_endpoint(self, member_id: str) -> Installation:
        """Ask the OAuth server where this portal answers now (a refresh: its answer names ``client_endpoint``
        and ``member_id``); save the rotated pair and that endpoint. Used before following a redirect."""
        database = open_db(self.database)
        # One refresh per portal at a time: across this host's processes on SQLite, every machine on PostgreSQL.
        with database.lock(f"oauth-{portal_key(member_id)}"):
            try:
                store = InstallationStore(database)
                inst = _usable(store, member_id)
                tokens = exchange_refresh_token(self.config, inst.refresh_token, self.session, self.clock)
                if tokens.member_id and tokens.member_id != member_id:
                    raise AuthError(0, "MEMBER_MISMATCH", "the OAuth server answered for another portal",
                                    "oauth.token")
                store.save_tokens(member_id, tokens.access_token, tokens.refresh_token, tokens.expires_at,
                                  client_endpoint=tokens.client_endpoint)
                saved = store.find(member_id)
                assert saved is not None
                return saved
            finally:
                database.close()

    def _refresh_locked(self, store: InstallationStore, member_id: str, stale: str) -> Installation:
        inst = _usable(store, member_id)
        if inst.access_token and inst.access_token != stale:
            log.debug("token of %s already rotated by another worker", member_id)
            return inst
        try:
            tokens = exchange_refresh_token(self.config, inst.refresh_token, self.session, self.clock)
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
        store.save_tokens(member_id, tokens.access_token, tokens.refresh_token, tokens.expires_at,
                          client_endpoint=tokens.client_endpoint)
        log.info("refreshed tokens of %s (valid until %s)", member_id, tokens.expires_at)
        saved = store.find(member_id)
        assert saved is not None
        return saved

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
