"""The change poll answers only for what the page it was signed into showed (ARCHITECTURE.md §2 step 5)."""

from __future__ import annotations

import html
import re

from tests.unit.placements.conftest import ETI, Frame, frame_form
from tests.unit.placements.test_ui_views import add_plan


def poll_url(page: str) -> str:
    found = re.search(r'data-live-src="([^"]+)"', page)
    assert found, "the page does not poll"
    return html.unescape(found.group(1))


def test_the_page_polls_for_what_it_shows(frame, fake):
    add_plan(fake)
    url = poll_url(frame.client.get(frame.location).get_data(as_text=True))
    answer = frame.client.get(url, headers={"X-Frame-Session": frame.s})
    assert answer.status_code == 200 and answer.get_json() == {"changed": False}


def test_ids_that_were_not_signed_into_the_page_are_refused(frame, fake):
    add_plan(fake)
    for forged in ("plans=99&after=0", "plans=1&after=0", "deal=12&dp=0", "deal=12&dp=1&plans=1"):
        answer = frame.client.get(f"/api/changes?{forged}&_s={frame.s}")
        assert answer.status_code == 403 and "changed" not in answer.get_data(as_text=True), forged
    url = poll_url(frame.client.get(frame.location).get_data(as_text=True))
    tampered = re.sub(r"w=([^&]+)", lambda m: "w=" + m.group(1)[:-2] + "xx", url)
    assert frame.client.get(tampered, headers={"X-Frame-Session": frame.s}).status_code == 403
    extra = url + "&plans=99&deal=12&dp=0"  # loose ids next to a good token are not read
    assert frame.client.get(extra, headers={"X-Frame-Session": frame.s}).get_json() == {"changed": False}


def test_a_poll_token_of_another_session_is_refused(app, inst, fake):
    add_plan(fake)
    fake.deals[11][f"parentId{ETI}"] = 1
    first = app.test_client()
    location = first.post("/placements/deal", data=frame_form(
        PLACEMENT="CRM_DEAL_DETAIL_TAB", PLACEMENT_OPTIONS='{"ID":"11"}')).headers["Location"]
    url = poll_url(first.get(location).get_data(as_text=True))
    second = app.test_client()
    other = Frame(second, second.post("/", data=frame_form()).headers["Location"])
    answer = second.get(url, headers={"X-Frame-Session": other.s})
    assert answer.status_code == 403
    assert first.get(url).status_code == 200  # its own session still polls
