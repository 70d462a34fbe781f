"""What an admin can do to the portal behind the app's back, as a table: the smart process deleted, one of its
fields deleted. The frames answer with a banner that says what happened and what to do (never a 500, never a
silent 0), a line in the log names it, and ``b24plans doctor`` FAILs on it. (Odd answers of the REST API itself —
no ``time`` block, ``[]`` for ``{}``, HTML error pages, unknown error codes — are tried in
tests/unit/rest/test_rest_odd_answers.py.)
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_operations import env  # noqa: F401 - the CLI's settings fixture

from b24app.cli import cli
from tests.integration.test_ui_support import Frame, webhook

pytestmark = pytest.mark.integration


def delete_smart_process(hook, inst) -> str:
    """As an admin must: its items first (the portal refuses to delete a type that has elements), then the type."""
    for item in hook.call("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"]})["items"]:
        hook.call("crm.item.delete", {"entityTypeId": inst.entity_type_id, "id": item["id"]})
    hook.call("crm.type.delete", {"id": inst.type_id})
    return "smart process"


def delete_won_field(hook, inst) -> str:
    fields = hook.call("userfieldconfig.list", {"moduleId": "crm",
                                                "filter": {"entityId": f"CRM_{inst.type_id}"}})["fields"]
    (won,) = [f for f in fields if f["fieldName"].endswith("_EXECUTED")]
    hook.call("userfieldconfig.delete", {"moduleId": "crm", "id": won["id"]})
    return "fields"


# (what an admin did, how, the frame's status, words of the banner (Spanish user), the doctor's failing check)
CASES = [
    ("the smart process deleted", delete_smart_process, 503, "se eliminó en este portal, y los planes con él"),
    ("a field of the smart process deleted", delete_won_field, 200, "se eliminaron en este portal (ufCrm"),
]


@pytest.mark.parametrize("what, act, status, banner", CASES, ids=[c[0] for c in CASES])
def test_a_portal_changed_behind_the_apps_back_gets_a_banner_and_doctor_fails(env, caplog, what, act, status,  # noqa: F811
                                                                              banner):
    installed = env
    hook = webhook(installed)
    inst = installed.installation
    hook.call("crm.item.add", {"entityTypeId": inst.entity_type_id, "fields": {
        "title": "Plan", "opportunity": 1000, "currencyId": "USD", "categoryId": inst.category_id}})
    check = act(hook, inst)
    page = Frame(installed).page
    assert page.status_code == status, page.text[:300]
    assert banner in page.text.replace("&#39;", "'")
    assert "Configuración" in page.text  # the banner says where to go
    assert any(r.levelname == "ERROR" and "no longer exist" in r.getMessage() for r in caplog.records), what
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code != 0, result.output
    assert f"FAIL {check}:" in result.output, result.output
