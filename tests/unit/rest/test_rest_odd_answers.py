"""Portal answers that break assumptions, as a table: each is either read as the portal meant it or raised as a
``B24Error`` with a readable message (never a KeyError or TypeError from deep inside the client, never HTML)."""

from __future__ import annotations

import json

import pytest
import responses
from conftest import ENDPOINT

from b24app.rest import B24Error, ServerError

HTML = "<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Service unavailable</h1></body></html>"

# (what, method, status, body (dict/list or raw text), the result expected or the error class)
ODD: list[tuple[str, str, int, object, object]] = [
    ("no time block", "profile", 200, {"result": {"ID": "1"}}, {"ID": "1"}),
    ("time block as a list", "profile", 200, {"result": {"ID": "1"}, "time": []}, {"ID": "1"}),
    ("a null result", "crm.item.get", 200, {"result": None}, None),
    ("an empty list where a dict is due", "crm.currency.list", 200, {"result": []}, []),
    ("an HTML page with HTTP 200", "profile", 200, HTML, ServerError),
    ("an HTML page with HTTP 403", "profile", 403, HTML, B24Error),
    ("an HTML page with HTTP 404", "profile", 404, HTML, B24Error),
    ("plain text", "profile", 200, "OK", ServerError),
    ("a bare JSON list", "profile", 200, [], ServerError),
    ("an unknown error code", "profile", 400, {"error": "SOMETHING_NEW", "error_description": "?"}, B24Error),
    ("an error without a description", "profile", 400, {"error": "ERROR_CORE"}, B24Error),
    ("an error code that is not text", "profile", 400, {"error": 42}, B24Error),
]


@pytest.mark.parametrize("what, method, status, body, expected", ODD, ids=[o[0] for o in ODD])
def test_odd_answers_are_read_or_raised_as_portal_errors(rsps, make_client, what, method, status, body, expected):
    text = body if isinstance(body, str) else json.dumps(body)
    ctype = "text/html" if isinstance(body, str) and body.startswith("<") else "application/json"
    for _ in range(10):
        rsps.add(responses.POST, ENDPOINT + method + ".json", body=text, status=status, content_type=ctype)
    client = make_client()
    if isinstance(expected, type):
        with pytest.raises(expected) as info:
            client.call(method, {})
        assert "<" not in str(info.value), what  # no HTML in the message an admin reads
    else:
        assert client.call(method, {}) == expected, what


# (what, the batch's result block, what batch() gives: results, errors)
BATCHES: list[tuple[str, object, dict, set]] = [
    ("every section an empty list", {"result": [], "result_error": [], "result_total": [], "result_next": [],
                                     "result_time": []}, {}, set()),
    ("every section an empty dict", {"result": {}, "result_error": {}, "result_total": {}, "result_next": {},
                                     "result_time": {}}, {}, set()),
    ("sections missing", {"result": {"a": {"ID": 1}}}, {"a": {"ID": 1}}, set()),
    ("results as a list (numeric keys)", {"result": [{"ID": 1}], "result_error": []}, {"0": {"ID": 1}}, set()),
    ("an error in result_error, none in result", {"result": [], "result_error": {"a": {
        "error": "NOT_FOUND", "error_description": "Not found"}}}, {}, {"a"}),
]


@pytest.mark.parametrize("what, block, results, errors", BATCHES, ids=[b[0] for b in BATCHES])
def test_odd_batch_sections_are_read(rsps, make_client, what, block, results, errors):
    rsps.add(responses.POST, ENDPOINT + "batch.json", body=json.dumps({"result": block}), status=200,
             content_type="application/json")
    got = make_client().batch({"a": ("crm.item.get", {"id": 1})})
    assert {k: v for k, v in got.result.items() if v not in (None, [], {})} == results, what
    assert set(got.errors) == errors, what
