"""The seed's own target, a self-hosted ("solo en la versión en premisa") Bitrix24, as a sandbox profile: no cloud
rate limit, the operating-time limit off unless the admin enables it (then 420 s), and a CRM module older than the
app needs (some methods missing). The end-to-end scenario passes on it as on the cloud one; an older CRM is named
method by method on the install page, with what the admin must update; and the app's own rate limit is set per
installation (a self-hosted portal may allow more than the cloud's 2 per second).
"""

from __future__ import annotations

import html
import re

import pytest
import requests
from click.testing import CliRunner
from test_reconcile import faults, quiet

from b24app.cli import cli
from b24app.rest.clients import clients_for

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox_options():
    return {"seed": "demo", "rate_limit": True, "profile": "selfhosted"}  # the profile turns the cloud limit off


def test_the_whole_scenario_passes_on_a_self_hosted_portal(user, installed, sandbox):
    state = faults(sandbox)
    assert state["profile"] == "selfhosted" and state["rate_limit"] is False and state["operating_limit"] > 1e6
    plan = user.add_plan(10000)
    deals = [user.add_deal(plan, amount) for amount in (3000, 4500)]
    quiet(sandbox, installed)
    for deal in deals:
        user.update(2, deal, stageId="WON")
    quiet(sandbox, installed)
    assert user.figures(plan)["EXECUTED"] == 7500
    faults(sandbox, drop_events=1)
    user.update(2, deals[0], stageId="NEW")  # lost: only reconcile can see it
    assert sandbox.portal.dispatcher.wait_idle(15)
    faults(sandbox, drop_events=0, operating_limit=420)  # the admin enables the operating-time limit: 420 s
    from test_fault_trials import reconcile_once

    reconcile_once(installed)
    assert user.figures(plan)["EXECUTED"] == 4500
    assert faults(sandbox)["operating_limit"] == 420


@pytest.fixture
def older_crm(sandbox_options):
    sandbox_options["missing_methods"] = ["userfieldconfig.add", "crm.type.add"]
    return sandbox_options


def test_an_older_crm_is_named_method_by_method_on_the_install_page(older_crm, live_app, sandbox):
    hook = sandbox.webhook_url
    assert requests.post(hook + "method.get", json={"name": "crm.type.add"}, timeout=10).json()["result"] == {
        "isExisting": False, "isAvailable": False}
    assert requests.post(hook + "crm.type.add", json={"fields": {}}, timeout=10).json()["error"] == \
        "ERROR_METHOD_NOT_FOUND"
    form = sandbox.portal.frame_fields(live_app.client_id, user_id=1, placement="DEFAULT", lang="la",
                                       handler=live_app.url + "/install")
    page = requests.post(form.action, data=form.form, timeout=60)
    assert page.status_code == 409  # not installed: the admin must act
    missing = page.text[page.text.find('id="missing-methods"'):]
    missing = missing[:missing.find("</ul>")]
    assert sorted(html.unescape(m) for m in re.findall(r"<code>([^<]+)</code>", missing)) == [
        "crm.type.add", "userfieldconfig.add"]  # exactly what the portal lacks
    assert "Actualice los módulos «crm» y «rest»" in html.unescape(page.text)  # what the admin must update
    inst = live_app.installation()
    assert inst is None or not inst.is_provisioned


def test_the_apps_rate_limit_is_set_per_installation(installed, monkeypatch):
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    config = installed.live.config
    default = clients_for(config).admin(installed.installation)
    assert (default.gate.bucket.capacity, default.rate) == (config["RATE_BURST"], config["RATE_PER_SECOND"])
    result = CliRunner().invoke(cli, ["limits", "--member-id", installed.member_id, "--burst", "250",
                                      "--per-second", "20"])
    assert result.exit_code == 0, result.output
    assert "burst 250" in result.output and "20/s" in result.output
    inst = installed.installation
    assert (inst.rate_burst, inst.rate_per_second) == (250, 20)
    tuned = clients_for(config).admin(inst)
    assert (tuned.gate.bucket.capacity, tuned.rate) == (250, 20)
    shown = CliRunner().invoke(cli, ["limits"])
    assert installed.member_id in shown.output and "burst 250" in shown.output
    cleared = CliRunner().invoke(cli, ["limits", "--member-id", installed.member_id, "--clear"])
    assert cleared.exit_code == 0 and "the settings' defaults" in cleared.output
    back = clients_for(config).admin(installed.installation)
    assert (back.gate.bucket.capacity, back.rate) == (config["RATE_BURST"], config["RATE_PER_SECOND"])
    refused = CliRunner().invoke(cli, ["limits", "--member-id", installed.member_id, "--burst", "0"])
    assert refused.exit_code != 0
