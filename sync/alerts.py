"""Send the queued alerts (``b24app/alertstore.py``) to the plans' responsibles as Bitrix24 notifications.

``im.notify.system.add`` (scope ``im``; api-reference/chats/notifications/im-notify-system-add.md) with the
installation's admin tokens, after the worker's drain: two batch calls per portal that has alerts waiting
(the responsibles' ``LANGUAGE_ID`` by ``user.get``, then up to 50 notifications), none otherwise — recompute
and reconcile only queue rows in the app's database, so they cost no REST call. Each alert is marked done
once its notification was accepted, or given up (switched off, no responsible, no ``im`` scope, refused);
nothing is sent twice. The text is in the responsible's language (Spanish when unknown), with a link that
opens the plan in the app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from babel.support import Translations

from b24app import alertstore, i18n
from b24app.installations import Installation, InstallationStore
from b24app.rest import errors as rest_errors
from b24app.rest.clients import RestClient, clients_for
from b24app.storage import Store

log = logging.getLogger(__name__)

SCOPE = "im"
#: msgids (English) of each kind; translated through the app's catalogs
TEXTS = {
    alertstore.AT_RISK: "The sales plan “%(title)s” is at risk: at this pace it will not be met. Open the plan: "
                        "%(link)s",
    alertstore.FULFILLED: "The sales plan “%(title)s” is fulfilled. Open the plan: %(link)s",
    alertstore.UNFULFILLED: "The sales plan “%(title)s” ended unfulfilled. Open the plan: %(link)s",
}
  # the catalogs in b24app/translations/ hold these msgids

def plan_link(inst: Installation, client_id: str, plan_id: int) -> str:
    """The app's page in the portal, opened on the plan (``PARAMS`` become the frame's ``PLACEMENT_OPTIONS``)."""
    params = quote(json.dumps({"plan": str(plan_id)}, separators=(",", ":")))
    endpoint = urlsplit(inst.client_endpoint or "")  # the portal's own scheme and host (https in Bitrix24)
    base = f"{endpoint.scheme}://{endpoint.netloc}" if endpoint.netloc else f"https://{inst.domain}"
    return f"{base}/marketplace/app/{client_id}/?PARAMS={params}"


def message(kind: str, title: str, link: str, b24_lang: str | None) -> str:
    """The notification's text in the Bitrix24 language ``b24_lang`` (Spanish when unknown)."""
    locale = i18n.locale_for(b24_lang)
    try:
        i18n.compile_catalogs()  # a process that never built the app (b24plans jobs) still has fresh .mo files
    except OSError:
        pass
    translations = Translations.load(str(i18n.TRANSLATIONS), [locale])
    return translations.gettext(TEXTS[kind]) % {"title": title or "—", "link": link}


def _languages(client: RestClient, user_ids: set[int]) -> dict[int, str]:
    """user id -> ``LANGUAGE_ID`` (api-reference/user/user-get.md); one batch, empty on failure."""
    if not user_ids:
        return {}
    result = client.batch({f"u{uid}": ("user.get", {"ID": uid}) for uid in sorted(user_ids)})
    found = {}
    for uid in user_ids:
        rows = result.result.get(f"u{uid}") or []
        if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
            found[uid] = str(rows[0].get("LANGUAGE_ID") or "")
    return found


def send_pending(client: RestClient, db: Store, inst: Installation,
                 config: Mapping[str, Any]) -> int:
    """Send one portal's queued alerts (up to 50); returns how many notifications the portal accepted."""
    queued = alertstore.pending(db, inst.member_id)
    if not queued:
        return 0
    on = alertstore.switches(db, inst.member_id)
    skipped = {}
    if SCOPE not in inst.scopes.replace(",", " ").split():
        skipped = {a["id"]: "the app lacks the im scope (re-install it)" for a in queued}
    else:
        skipped.update({a["id"]: "switched off" for a in queued if not on.get(a["kind"], True)})
        skipped.update({a["id"]: "no responsible" for a in queued if not a["user_id"]})
    for reason in set(skipped.values()):
        alertstore.mark(db, [i for i, r in skipped.items() if r == reason], error=reason)
    todo = [a for a in queued if a["id"] not in skipped]
    if not todo:
        return 0
    languages = _languages(client, {int(a["user_id"]) for a in todo})
    client_id = str(config.get("CLIENT_ID") or "")
    commands = {}
    for alert in todo:
        text = message(alert["kind"], alert["title"], plan_link(inst, client_id, alert["plan_id"]),
                       languages.get(int(alert["user_id"])))
        commands[f"a{alert['id']}"] = ("im.notify.system.add", {
            "USER_ID": alert["user_id"], "MESSAGE": text,
            "TAG": f"b24plans|{alert['plan_id']}|{alert['kind']}|{alert['period']}"})
    result = client.batch(commands)
    sent = [a["id"] for a in todo if f"a{a['id']}" not in result.errors]
    alertstore.mark(db, sent)
    for alert in todo:
        error = result.errors.get(f"a{alert['id']}")
        if error is not None:
            log.warning("portal %s plan %s: notification refused: %s", inst.member_id, alert["plan_id"], error)
            alertstore.mark(db, [alert["id"]], error=str(error)[:200])
    return len(sent)


def send_all(config: Mapping[str, Any], db: Store, member_id: str | None = None) -> int:
    """Send every active portal's queued alerts; a portal that fails keeps them for the next run."""
    store = InstallationStore(db)
    candidates = [store.find(member_id)] if member_id else store.all()
    total = 0
    for inst in candidates:
        if inst is None or not inst.is_active or not alertstore.has_pending(db, inst.member_id):
            continue
        try:
            with clients_for(config).admin(inst) as client:
                total += send_pending(client, db, inst, config)
        except rest_errors.ReauthRequired:
            log.warning("portal %s: alerts wait until an admin opens the app (tokens refused)", inst.member_id)
        except Exception as exc:  # noqa: BLE001 - one portal's failure must not stop the others
            log.warning("portal %s: sending alerts failed (%s: %s); will retry", inst.member_id,
                        type(exc).__name__, exc)
    return total
