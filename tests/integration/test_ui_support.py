"""Helpers for the UI integration and browser tests: open frames like the portal, seed plans over REST."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from b24app.rest import B24Client


def webhook(installed: Any) -> B24Client:
    """The sandbox's always-open webhook (user 1, an admin), for arranging and checking portal data."""
    return B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config)


def open_frame(installed: Any, path: str = "/", placement: str = "DEFAULT", options: dict | None = None,
               user_id: int = 1, lang: str = "la", **forged: str) -> tuple[requests.Session, requests.Response]:
    """POST the frame fields exactly as the portal would (optionally forged), without following redirects."""
    live = installed.live
    data = live.sandbox.portal.frame_fields(live.client_id, user_id=user_id, placement=placement,
                                            placement_options=options, lang=lang, handler=live.url + path)
    form = {**data.form, **forged}
    session = requests.Session()
    return session, session.post(data.action, data=form, allow_redirects=False, timeout=30)


class Frame:
    """A verified frame: a browser-like session that follows the app's links with the ``_s`` token."""

    def __init__(self, installed: Any, path: str = "/", **kwargs: Any):
        self.installed = installed
        self.base = installed.live.url
        self.http, first = open_frame(installed, path, **kwargs)
        assert first.status_code == 303, first.text[:500]
        self.location = first.headers["Location"]
        self.s = parse_qs(urlsplit(self.location).query)["_s"][0]
        self.page = self.get(self.location)
        found = re.search(r'data-csrf="([^"]+)"', self.page.text)
        self.csrf = found.group(1) if found else ""

    def get(self, path: str, **params: Any) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        if "_s=" not in url:
            params["_s"] = self.s
        return self.http.get(url, params=params, timeout=60)

    def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> requests.Response:
        body = {"_s": self.s, **data}
        if csrf:
            body["csrf_token"] = self.csrf
        return self.http.post(self.base + path, data=body, allow_redirects=False, timeout=60)


def seed_plans(client: B24Client, inst: Any, plans: list[dict[str, Any]]) -> list[int]:
    """Create plans (items of the smart process) in batches of 50; returns their ids."""
    ids: list[int] = []
    for start in range(0, len(plans), 50):
        commands = {}
        for n, fields in enumerate(plans[start:start + 50]):
            full = {"isManualOpportunity": "Y", "stageId": inst.stage_map["P"], **fields}
            if inst.category_id:
                full["categoryId"] = inst.category_id
            commands[f"p{n}"] = ("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": full})
        result = client.batch(commands)
        result.raise_first()
        ids += [int(result.result[k]["item"]["id"]) for k in commands]
    return ids


def companies(client: B24Client) -> list[dict[str, Any]]:
    return client.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"],
                                         "order": {"id": "ASC"}})["items"]
