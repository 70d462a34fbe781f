"""What a person sees in the second UI pass (issue 16): the form's dates are the dates saved, the client picker
ignores accents and says when nothing matched, money sorts across currencies by the base-currency value."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
NBSP = "\xa0"


def app_frame(page):
    return page.frame_locator(".app-frame iframe").first


def open_new_plan(installed, page, width: int = 1280, lang: str = "la"):
    sandbox = installed.live.sandbox
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "b24sb_lang", "value": lang, "url": sandbox.url}])
    page.goto(f"{sandbox.url}/marketplace/app/{installed.live.client_id}/")
    frame = app_frame(page)
    frame.locator("#new-plan").click()
    frame.locator("#plan-form").wait_for()
    return frame


@pytest.mark.parametrize("width", [360, 1280])
def test_a_preset_follows_a_new_start_date(installed, page, shot, width):
    """Periodo = Trimestre, Inicio changed to 01/01/2027: Fin shows 31/03/2027, the end that is saved."""
    frame = open_new_plan(installed, page, width)
    frame.locator("#period").select_option("quarter")
    frame.locator("#begindate").fill("2027-01-01")
    assert frame.locator("#closedate").input_value() == "2027-03-31"
    frame.locator("#begindate").fill("2027-05-17")  # a start inside a quarter: the quarter it is in
    assert frame.locator("#begindate").input_value() == "2027-04-01"
    assert frame.locator("#closedate").input_value() == "2027-06-30"
    frame.locator("#period").select_option("custom")
    frame.locator("#begindate").fill("2027-05-17")  # custom dates stay as typed
    assert frame.locator("#begindate").input_value() == "2027-05-17"
    assert frame.locator("#closedate").input_value() == "2027-06-30"
    shot(f"20-form-preset-dates-{width}px")
