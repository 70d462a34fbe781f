"""batch: references, halt, limits and the documented result sections (settings/how-to-call-rest-api/batch.md)."""

from __future__ import annotations

from urllib.parse import quote

import requests


def _deals(hook, count):
    for n in range(count):
        hook.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": f"D{n}", "opportunity": 100 + n}})


def test_result_references_are_substituted_after_percent_decoding(sb, hook):
    _deals(hook, 3)
    cmd = {
        "first": "crm.item.list?" + "entityTypeId=2&order%5Bid%5D=ASC&select%5B0%5D=id&select%5B1%5D=title",
        "same": "crm.item.get?entityTypeId=2&id=%24result%5Bfirst%5D%5Bitems%5D%5B1%5D%5Bid%5D",
        "after": "crm.item.list?entityTypeId=2&filter[>id]=$result[first][items][0][id]&select[]=id",
    }
    body = hook.call("batch", {"halt": 0, "cmd": cmd})["result"]
    assert body["result"]["same"]["item"]["title"] == "D1"
    assert [i["id"] for i in body["result"]["after"]["items"]] == [2, 3]
    assert body["result_total"] == {"first": 3, "after": 2}
    assert body["result_error"] == [] and body["result_next"] == []
    assert set(body["result_time"]) == {"first", "same", "after"}
    assert "operating" in body["result_time"]["first"]


def test_references_to_totals_and_missing_values(hook):
    _deals(hook, 3)
    cmd = {"all": "crm.item.list?entityTypeId=2&select[]=id",
           "count": "crm.item.get?entityTypeId=2&id=$result_total[all]",
           "gone": "crm.item.list?entityTypeId=2&filter[>id]=$result[all][items][49][id]&start=-1"}
    body = hook.result("batch", {"cmd": cmd})
    assert body["result"]["count"]["item"]["id"] == 3
    assert body["result"]["gone"]["items"] == []


def test_double_encoded_query_string_batch(sb, hook):
    _deals(hook, 2)
    inner = "crm.item.get?entityTypeId=2&id=2"
    url = sb.webhook_url + "batch?cmd%5Bx%5D=" + quote(inner, safe="")
    body = requests.get(url, timeout=5).json()["result"]
    assert body["result"]["x"]["item"]["title"] == "D1"


def test_errors_are_collected_and_halt_stops(hook):
    _deals(hook, 1)
    cmd = {"bad": "crm.item.get?entityTypeId=2&id=999", "good": "crm.item.get?entityTypeId=2&id=1"}
    collected = hook.result("batch", {"halt": 0, "cmd": cmd})
    assert collected["result_error"]["bad"]["error"] == "NOT_FOUND"
    assert list(collected["result_time"]) == ["good"]
    assert collected["result"]["good"]["item"]["id"] == 1
    for halt in (1, "true", True):
        halted = hook.result("batch", {"halt": halt, "cmd": cmd})
        assert "bad" in halted["result_error"] and halted["result"] == []


def test_list_of_commands_gives_lists_and_next(hook):
    _deals(hook, 55)
    body = hook.result("batch", {"cmd": ["crm.item.list?entityTypeId=2&select[]=id", "user.admin"]})
    assert isinstance(body["result"], list) and body["result"][1] is True
    assert body["result_next"] == {"0": 50} or body["result_next"] == [50]
    assert len(body["result"][0]["items"]) == 50


def test_more_than_50_commands_is_refused(sb):
    cmd = {f"c{i}": "user.admin" for i in range(51)}
    response = requests.post(sb.webhook_url + "batch", json={"cmd": cmd}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    ok = requests.post(sb.webhook_url + "batch", json={"cmd": dict(list(cmd.items())[:50])}, timeout=5)
    assert ok.status_code == 200 and len(ok.json()["result"]["result"]) == 50


def test_nested_batch_is_not_allowed(hook):
    body = hook.result("batch", {"cmd": {"inner": "batch?cmd[a]=user.admin"}})
    assert body["result_error"]["inner"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"
