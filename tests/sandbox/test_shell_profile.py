"""The sandbox portal has the employee profile page Bitrix24 links a responsible's name to."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration


def test_an_employee_has_a_profile_page(sb):
    user = requests.post(sb.webhook_url + "user.get.json", json={"ID": 2}, timeout=10).json()["result"][0]
    page = requests.get(f"{sb.url}/company/personal/user/2/?IFRAME=Y", timeout=10)
    assert page.status_code == 200
    assert f"{user['NAME']} {user['LAST_NAME']}" in page.text and 'id="user-profile"' in page.text
    assert requests.get(f"{sb.url}/company/personal/user/999/", timeout=10).status_code == 404
