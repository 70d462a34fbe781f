"""Frames keep working while the installation's stored tokens are refused (``needs_reauth``, ARCHITECTURE.md F2):
they use the person's own ``AUTH_ID``, never the stored pair. Only the worker, reconcile and provisioning
need the stored admin tokens; they wait until an administrator opens the app.

When one does, the frame POST carries that admin's ``REFRESH_ID`` (api-reference/widgets/index.md); it is
trusted only once the OAuth server exchanges it and names this portal (settings/oauth/auto-renewal.md),
exactly as the install page trusts its own, and the new pair becomes the installation's: the worker resumes.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from b24app.db import get_db
from b24app.installations import NEEDS_REAUTH, Installation, InstallationStore, audit
from b24app.rest.oauth import exchange_refresh_token
from placements.frames import FrameUser

log = logging.getLogger(__name__)


def resume_with_admin(inst: Installation, form: Any, user: FrameUser) -> Installation:
    """Adopt a verified admin's fresh token pair for an installation waiting for re-authorisation."""
    refresh_id = str(form.get("REFRESH_ID") or "")
    if inst.status != NEEDS_REAUTH or not user.is_admin or not refresh_id:
        return inst
    try:
        tokens = exchange_refresh_token(current_app.config, refresh_id)
    except Exception as exc:  # noqa: BLE001 - the frame still works; the banner says what to do
        log.warning("portal %s: the admin's REFRESH_ID was not exchanged (%s)", inst.member_id, type(exc).__name__)
        return inst
    if tokens.member_id and tokens.member_id != inst.member_id:
        log.warning("portal %s: the OAuth server answered for another portal; tokens not adopted", inst.member_id)
        return inst
    store = InstallationStore(get_db())
    store.save_tokens(inst.member_id, tokens.access_token, tokens.refresh_token, tokens.expires_at,
                      client_endpoint=tokens.client_endpoint)
    audit(get_db(), inst.member_id, "oauth.reauthorised", by_user=user.user_id)
    log.info("portal %s: re-authorised by admin %s opening the app; the worker resumes", inst.member_id,
             user.user_id)
    return store.find(inst.member_id) or inst
