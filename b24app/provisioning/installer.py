"""The install flow: verify the install POST, keep the installation, check the portal, provision.

The posted ``DOMAIN`` and tokens are never trusted as such: the posted ``REFRESH_ID`` is exchanged at the
configured OAuth server with our client_id/secret (settings/oauth/auto-renewal.md). Only that answer
says which portal (``member_id``, ``client_endpoint``) and which user (``user_id``) this is; the posted
``member_id`` must match it. Docs: settings/oauth/simple-way.md (the POST fields),
settings/app-installation/installation-finish.md, api-reference/common/users/user-admin.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from b24app import logsafe
from b24app.installations import ACTIVE, Installation, InstallationStore, audit, now_iso
from b24app.manifest import Manifest
from b24app.provisioning.provision import missing_methods, provision
from b24app.provisioning.report import ProvisionReport
from b24app.rest import oauth
from b24app.rest.clients import RestClient, clients_for
from b24app.rest.errors import B24Error, TransportError
from b24app.rest.oauth import TokenSet
from b24app.storage import Store

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("member_id", "AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN")


class InstallRefused(Exception):
    """The install cannot go on; ``reason`` is a message key for the page, ``status`` the HTTP status."""

    def __init__(self, reason: str, detail: str = "", status: int = 400):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class InstallForm:
    """What Bitrix24 POSTs to the install path (form body plus ``DOMAIN``/``LANG`` in the query)."""

    member_id: str
    auth_id: str = field(repr=False)
    refresh_id: str = field(repr=False)
    application_token: str = field(repr=False)
    domain: str = ""
    lang: str = "la"
    scopes: str = ""
    placement: str = "DEFAULT"

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> InstallForm:
        """From ``request.values``; raises InstallRefused("malformed") naming the missing fields."""
        missing = [name for name in REQUIRED_FIELDS if not str(values.get(name) or "").strip()]
        if missing:
            raise InstallRefused("malformed", "missing " + ", ".join(missing), 400)
        form = cls(
            member_id=str(values["member_id"]).strip(),
            auth_id=str(values["AUTH_ID"]).strip(),
            refresh_id=str(values["REFRESH_ID"]).strip(),
            application_token=str(values["APPLICATION_TOKEN"]).strip(),
            domain=str(values.get("DOMAIN") or ""),
            lang=str(values.get("LANG") or "la").strip().lower()[:5] or "la",
            scopes=str(values.get("APPLICATION_SCOPE") or ""),
            placement=str(values.get("PLACEMENT") or "DEFAULT"),
        )
        logsafe.register_secret(form.auth_id, form.refresh_id, form.application_token)
        return form


def exchange_refresh_token(config: Mapping[str, Any], refresh_token: str) -> TokenSet:
    """The OAuth server's word on a posted ``REFRESH_ID`` (which portal, which user), or InstallRefused."""
    try:
        tokens = oauth.exchange_refresh_token(config, refresh_token)
    except TransportError as exc:
        raise InstallRefused("oauth_unreachable", exc.description, 502) from None
    except B24Error as exc:  # an error the server answered (403), or no usable answer (502)
        raise InstallRefused("oauth_failed", exc.code or exc.description, 403 if exc.code else 502) from None
    if not tokens.member_id:
        raise InstallRefused("oauth_failed", "the OAuth answer has no member_id", 502)
    if not tokens.client_endpoint:
        raise InstallRefused("oauth_failed", "the OAuth answer has no usable client_endpoint", 502)
    return tokens


def verified_installation(config: Mapping[str, Any], store: InstallationStore, form: InstallForm) -> Installation:
    """The installation as the OAuth server vouches for it, merged with what we kept of an earlier install."""
    tokens = exchange_refresh_token(config, form.refresh_id)
    if tokens.member_id != form.member_id:
        raise InstallRefused("member_mismatch", "the posted member_id is not the portal the token belongs to", 403)
    client_endpoint = str(tokens.client_endpoint)
    existing = store.find(form.member_id)
    base = existing or Installation(member_id=form.member_id, domain="", client_endpoint=client_endpoint)
    return base.with_(
        domain=urlsplit(client_endpoint).netloc,
        client_endpoint=client_endpoint,
        server_endpoint=tokens.server_endpoint or base.server_endpoint,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        application_token=form.application_token,
        scopes=tokens.scope or form.scopes,
        user_id=tokens.user_id,
        lang=form.lang,
        status=ACTIVE,
        installed_at=(existing.installed_at if existing and existing.is_active else None) or now_iso(),
        uninstalled_at=None,
    )


def is_admin(client: RestClient) -> bool:
    """user.admin (api-reference/common/users/user-admin.md); ``profile.ADMIN`` when user.admin is missing."""
    try:
        return client.call("user.admin", {}) in (True, "true", "Y", 1, "1")
    except B24Error as exc:
        log.info("user.admin failed (%s); trying profile", exc.code or exc.status)
        profile = client.call("profile", {})
        return isinstance(profile, Mapping) and profile.get("ADMIN") in (True, "true", "Y", 1, "1")


def app_version(client: RestClient) -> str:
    """The installed version from app.info (api-reference/common/system/app-info.md); "" when unknown."""
    try:
        info = client.call("app.info", {})
    except B24Error as exc:
        log.info("app.info failed: %s", exc.code or exc.status)
        return ""
    return str(info.get("VERSION") or "") if isinstance(info, Mapping) else ""


@dataclass
class InstallOutcome:
    installation: Installation
    first_time: bool
    missing: list[str] = field(default_factory=list)
    report: ProvisionReport | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and self.report is not None and self.report.ok


def install(config: Mapping[str, Any], db: Store, form: InstallForm,
            manifest: Manifest) -> InstallOutcome:
    """Verify, check that the user is an admin, keep the installation, check the portal's methods, provision.

    The portal is called with the installing admin's fresh access token (``clients_for(config).user``)."""
    store = InstallationStore(db)
    first_time = store.find(form.member_id) is None
    inst = verified_installation(config, store, form)
    with clients_for(config).user(inst, inst.access_token) as client:
        return _install_with(client, config, db, store, inst, first_time, manifest)


def _install_with(client: RestClient, config: Mapping[str, Any], db: Store, store: InstallationStore,
                  inst: Installation, first_time: bool, manifest: Manifest) -> InstallOutcome:
    try:
        admin = is_admin(client)
    except B24Error as exc:
        raise InstallRefused("portal_error", str(exc), 502) from None
    if not admin:
        audit(db, inst.member_id, "install_refused", reason="not_admin", user_id=inst.user_id)
        raise InstallRefused("not_admin", f"user {inst.user_id}", 403)
    # a verified (re)install: frame sessions opened before it no longer count (placements/frames.py)
    inst = store.save(inst.with_(app_version=app_version(client) or inst.app_version, sessions_from=time.time()))
    audit(db, inst.member_id, "install", actor=f"user:{inst.user_id}", domain=inst.domain,
          client_endpoint=inst.client_endpoint, scopes=inst.scopes, lang=inst.lang, first_time=first_time)
    outcome = InstallOutcome(inst, first_time)
    try:
        outcome.missing = missing_methods(client, events=manifest.events)
    except B24Error as exc:
        raise InstallRefused("portal_error", str(exc), 502) from None
    if outcome.missing:
        audit(db, inst.member_id, "install_incomplete", missing=outcome.missing)
        log.warning("portal %s lacks methods: %s", inst.member_id, ", ".join(outcome.missing))
        return outcome
    outcome.report = provision(client, db, inst, config, manifest)
    outcome.installation = store.find(inst.member_id) or inst
    return outcome
