"""``b24plans import`` against the sandbox over real HTTP: a realistic sheet of 30 clients × 12 months in a dry
run (nothing written, the report complete), for real, then again (nothing changes); a file with a bad cell writes
nothing; a batch refused in the middle reports what was and was not written and a second run finishes the rest
without duplicates."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from b24app.cli import cli

MONTHS = [f"2027-{m:02d}" for m in range(1, 13)]


@pytest.fixture
def env(installed, monkeypatch):
    monkeypatch.setenv("B24_ENV", "development")
    for name in ("DATABASE", "CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "PUBLIC_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"B24_{name}", str(installed.live.config[name]))
    monkeypatch.setenv("B24_RATE_BURST", "1000")
    return installed


def plans(installed):
    """Every plan of 2027 in the portal, read through the open webhook (not the app's code under test)."""
    from b24app.rest import B24Client

    inst = installed.installation
    with B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config) as hook:
        params = {"entityTypeId": inst.entity_type_id, "filter": {">=begindate": "2027-01-01"},
                  "select": ["id", "companyId", "begindate", "opportunity", "currencyId"]}
        return hook.list_all("crm.item.list", params, items_key="items")


def realistic_sheet(installed, tmp_path, names=30):
    portal = installed.live.sandbox.portal
    ids = portal.add_items(4, [{"title": f"Cliente {n:02d} S.A."} for n in range(names)])
    wb = Workbook()
    ws = wb.active
    ws.title = "2027"
    ws.append(["Cliente", "Responsable", "Moneda", "Probabilidad", *MONTHS])
    for n, company in enumerate(ids):
        client = f"company:{company}" if n % 2 else f"Cliente {n:02d} S.A."  # half by id, half by name
        responsible = ("María López" if n % 3 == 0 else 4 if n % 3 == 1 else "jorge  ramírez")
        ws.append([client, responsible, ("EUR", "USD", "MXN")[n % 3], 50 + n,
                   *[1000 * (n + 1) + 10 * m if (n + m) % 5 else None for m in range(12)]])
    path = tmp_path / "plan-2027.xlsx"
    wb.save(path)
    expected = sum(1 for n in range(names) for m in range(12) if (n + m) % 5)
    return path, ids, expected


def test_a_year_of_30_clients_dry_run_then_real_then_again(env, tmp_path):
    installed = env
    path, _ids, expected = realistic_sheet(installed, tmp_path)
    dry = CliRunner().invoke(cli, ["import", str(path), "--dry-run", "--lang", "es"])
    assert dry.exit_code == 0, dry.output
    assert f"{expected} to create, 0 to change, 0 unchanged, 0 problem(s)" in dry.output
    assert dry.output.count("create    company:") == expected and "dry run: nothing written" in dry.output
    assert plans(installed) == []

    real = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert real.exit_code == 0, real.output
    assert f"written: {expected} plan(s) in {-(-expected // 50)} batch call(s)" in real.output
    written = plans(installed)
    assert len(written) == expected
    assert {p["currencyId"] for p in written} == {"EUR", "USD", "MXN"}
    audit = installed.live.rows("SELECT actor, detail FROM audit_log WHERE action = 'plans.imported'")
    assert [a["actor"] for a in audit] == ["cli"] and f'"written": {expected}' in audit[0]["detail"]

    again = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert again.exit_code == 0, again.output
    assert f"0 to create, 0 to change, {expected} unchanged" in again.output
    assert "written: 0 plan(s) in 0 batch call(s)" in again.output
    assert len(plans(installed)) == expected


def test_one_bad_cell_writes_nothing(env, tmp_path):
    installed = env
    company, twin, other_twin = installed.live.sandbox.portal.add_items(4, [{"title": "Uno"}, {"title": "Doble"},
                                                                            {"title": "Doble"}])
    path = tmp_path / "bad.csv"
    path.write_text(f"cliente;moneda;2027-01;2027-02\ncompany:{company};EUR;1.000,50;x\n"
                    f"company:{company};GBP;;5\nNadie;EUR;5;\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert result.exit_code != 0
    assert "cell D2: x is not a number" in result.output and "nothing written" in result.output
    assert plans(installed) == []
    path.write_text(f"cliente;moneda;responsable;2027-01;2027-02\ncompany:{company};EUR;;1.000,50;\n"
                    f"company:{company};GBP;;;5\nNadie;EUR;;5;\ncompany:{company};EUR;a@b.c;;7\ndoble;EUR;;9;\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert "row 3: the portal has no currency GBP" in result.output
    assert "row 4: unknown client Nadie" in result.output
    assert (f"row 6: 2 clients are named doble (company:{twin}, company:{other_twin}): write the one you mean as "
            "company:ID or contact:ID") in result.output
    # the app's scope user_brief shows no e-mails (api-reference/scopes): said, not "unknown"
    assert "row 5: the portal does not show employees' e-mails to the app: write the responsible a@b.c by id" \
        in result.output
    assert plans(installed) == []


def test_a_failure_in_the_middle_is_reported_and_a_second_run_finishes(env, tmp_path, monkeypatch):
    installed = env
    ids = installed.live.sandbox.portal.add_items(4, [{"title": f"C{n}"} for n in range(10)])
    body = "client,currency," + ",".join(MONTHS) + "\n" + "".join(
        f"company:{c},USD," + ",".join(str(100 + m) for m in range(12)) + "\n" for c in ids)  # 120 plans: 3 batches
    path = tmp_path / "year.csv"
    path.write_text(body, encoding="utf-8")
    from b24app.rest.client import B24Client
    from b24app.rest.errors import TransportError

    real_batch = B24Client.batch
    sent = {"n": 0}

    def flaky(self, commands, halt=False):
        if any(command[0] == "crm.item.add" for command in commands.values()):
            sent["n"] += 1
            if sent["n"] == 2:
                raise TransportError(0, "TIMEOUT", "the portal did not answer", "batch")
        return real_batch(self, commands, halt)

    monkeypatch.setattr(B24Client, "batch", flaky)
    first = CliRunner().invoke(cli, ["import", str(path)])
    assert first.exit_code == 1, first.output
    assert "written: 50 plan(s) in 1 batch call(s)" in first.output
    assert first.output.count("FAILED company:") == 50 and "not written: 20 plan(s)" in first.output
    assert "run the same import again to finish" in first.output
    assert len(plans(installed)) == 50
    monkeypatch.setattr(B24Client, "batch", real_batch)
    second = CliRunner().invoke(cli, ["import", str(path)])
    assert second.exit_code == 0, second.output
    assert "70 to create, 0 to change, 50 unchanged" in second.output
    assert len(plans(installed)) == 120
    assert len({(p["companyId"], p["begindate"]) for p in plans(installed)}) == 120


def xlsx_bytes(rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_recurrence_column_is_written_as_the_portals_list_item_and_read_back(env, tmp_path):
    """The recurrence field is a list: the sheet's MONTHLY becomes this portal's item id (not the text), and
    importing the same file again finds the plan unchanged."""
    installed = env
    inst = installed.installation
    [company] = installed.live.sandbox.portal.add_items(4, [{"title": "Serie Mensual S.A."}])
    path = tmp_path / "series.csv"
    path.write_text("client,currency,recurrence,2027-01\n"
                    f"company:{company},EUR,MONTHLY,4000\n", encoding="utf-8")
    real = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert real.exit_code == 0, real.output
    assert "not applied" not in real.output
    field = inst.field_map["RECURRENCE"]
    from b24app.rest import B24Client

    with B24Client.for_webhook(installed.live.sandbox.webhook_url, installed.live.config) as hook:
        [row] = hook.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id,
                                                "filter": {"companyId": company}, "select": ["id", field]},
                              items_key="items")
    assert str(row[field]) == str(inst.enum_map["RECURRENCE"]["MONTHLY"])
    again = CliRunner().invoke(cli, ["import", str(path), "--lang", "es"])
    assert "0 to create, 0 to change, 1 unchanged" in again.output, again.output
