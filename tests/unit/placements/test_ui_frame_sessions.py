"""Frame sessions: the cookie wins over a planted ``_s``, and no session outlives an uninstall or a reinstall."""

from __future__ import annotations

import re
import time

from b24app.db import connect
from b24app.installations import ACTIVE, InstallationStore
from tests.unit.placements.conftest import Frame, frame_form


def open_frame(client, fake, user_id: str, admin: bool, lang: str = "la") -> Frame:
    fake.profile = {"ID": user_id, "ADMIN": admin, "NAME": "x"}
    response = client.post(f"/?LANG={lang}", data=frame_form(LANG=lang))
    assert response.status_code == 303
    return Frame(client, response.headers["Location"])


def store(app):
    return InstallationStore(connect(app.config["DATABASE"]))


def test_a_planted_session_token_does_not_override_the_session_cookie(app, inst, fake):
    attacker = open_frame(app.test_client(), fake, "1", admin=True)  # his own session: an admin's
    victim_client = app.test_client()
    open_frame(victim_client, fake, "9", admin=False)
    # the victim follows a link that carries the attacker's session
    assert victim_client.get(f"/settings?_s={attacker.s}").status_code == 403  # still the victim: no admin
    page = victim_client.get(f"/?_s={attacker.s}").get_data(as_text=True)
    assert re.search(r'data-session="([^"]+)"', page).group(1) != attacker.s
    assert attacker.client.get(f"/settings?_s={attacker.s}").status_code == 200  # the attacker's own still works
    cookieless = app.test_client(use_cookies=False)  # no cookie at all: the token is all there is
    assert cookieless.get(f"/settings?_s={attacker.s}").status_code == 200


def test_two_frames_of_one_browser_keep_their_own_sessions(app, inst, fake):
    client = app.test_client()
    english = open_frame(client, fake, "1", admin=True, lang="en")
    russian = open_frame(client, fake, "1", admin=True, lang="ru")  # the cookie now names this one too
    assert "Sales plans" in client.get(english.location).get_data(as_text=True)
    assert "Планы продаж" in client.get(russian.location).get_data(as_text=True)
    response = client.post("/plans/1/status", data={"status": "S", "_s": english.s, "csrf_token": english.csrf})
    assert response.status_code != 403  # the first frame's form still carries a valid CSRF token for its session


def test_a_session_opened_before_a_reinstall_is_refused_after_it(app, inst, fake):
    frame = open_frame(app.test_client(), fake, "1", admin=True)
    assert frame.client.get(frame.location).status_code == 200
    installations = store(app)  # what a verified install / Reinstall saves (tests/unit/test_install_page.py)
    installations.save(installations.find(inst.member_id).with_(sessions_from=time.time()))
    refused = frame.client.get(frame.location)
    assert refused.status_code == 401 and 'data-status="401"' in refused.get_data(as_text=True)
    assert app.test_client(use_cookies=False).get(frame.location).status_code == 401
    fresh = open_frame(app.test_client(), fake, "1", admin=True)  # the portal posts the frame again
    assert fresh.client.get(fresh.location).status_code == 200


def test_a_session_does_not_survive_an_uninstall(app, inst, fake):
    frame = open_frame(app.test_client(), fake, "1", admin=True)
    installations = store(app)
    installations.mark_uninstalled(inst.member_id)
    installations.set_status(inst.member_id, ACTIVE)  # active again without an install (e.g. a token refresh)
    assert frame.client.get(frame.location).status_code == 401
