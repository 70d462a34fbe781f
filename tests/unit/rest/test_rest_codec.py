"""The pure codec: batch commands, answer decoding, error mapping and retry rules, as tables of cases."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24app import phpquery
from b24app.rest import codec
from b24app.rest.errors import (
    AccessDenied,
    AuthError,
    BadRequest,
    MethodNotFound,
    NotFound,
    OperationTimeLimit,
    Overloaded,
    RateLimited,
    ReauthRequired,
    ServerError,
)

# ------------------------------------------------------------------ batch command strings

COMMANDS = [
    ("crm.item.get", {"entityTypeId": 2, "id": 5}, "crm.item.get?entityTypeId=2&id=5"),
    ("profile", None, "profile"),
    ("crm.item.list", {"filter": {"opened": True, "closed": False, "title": None}},
     "crm.item.list?filter[opened]=Y&filter[closed]=N&filter[title]="),
    ("crm.item.list", {"filter": {">id": 7}, "select": ["id", "title"]},
     "crm.item.list?filter[%3Eid]=7&select[0]=id&select[1]=title"),
    ("crm.item.list", {"filter": {">id": "$result[p0][items][49][id]"}},
     "crm.item.list?filter[%3Eid]=$result[p0][items][49][id]"),
    ("crm.deal.list", {"filter": {">ID": "$result[p3][49][ID]"}}, "crm.deal.list?filter[%3EID]=$result[p3][49][ID]"),
    ("crm.item.update", {"fields": {"title": "A&B=C #1 100%"}},
     "crm.item.update?fields[title]=A%26B%3DC%20%231%20100%25"),
    ("crm.item.update", {"fields": {"opportunity": Decimal("1500.50")}},
     "crm.item.update?fields[opportunity]=1500.50"),
    ("crm.item.update", {"fields": {"title": "Plan de $result[x][id] ventas"}},
     "crm.item.update?fields[title]=Plan%20de%20$result[x][id]%20ventas"),
    ("crm.item.update", {"fields": {"title": "costs $5 [draft]"}},
     "crm.item.update?fields[title]=costs%20%245%20%5Bdraft%5D"),
]


@pytest.mark.parametrize("method,params,expected", COMMANDS)
def test_encode_command(method, params, expected):
    assert codec.encode_command(method, params) == expected


@pytest.mark.parametrize("method,params,_expected", COMMANDS)
def test_encoded_commands_decode_back(method, params, _expected):
    text = codec.encode_command(method, params)
    name, _, query = text.partition("?")
    assert name == method
    assert phpquery.decode(query) == phpquery.unflatten(phpquery.flatten(params or {}))


@pytest.mark.parametrize("commands,problem", [
    ({f"k{i}": ("profile", None) for i in range(51)}, "at most 50"),
    ({"0": ("profile", None)}, "non-numeric"),
    ({"12": ("profile", None)}, "non-numeric"),
    ({"a b": ("profile", None)}, "non-numeric"),
    ({"": ("profile", None)}, "non-numeric"),
])
def test_batch_params_rejects(commands, problem):
    with pytest.raises(ValueError, match=problem):
        codec.batch_params(commands)


def test_batch_params_shape():
    params = codec.batch_params({f"k{i}": ("crm.item.get", {"id": i}) for i in range(50)}, halt=True)
    assert params["halt"] == 1 and len(params["cmd"]) == 50
    assert params["cmd"]["k7"] == "crm.item.get?id=7"


# ------------------------------------------------------------------ hypothesis: PHP brackets round trip

_key = st.text(alphabet=st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)),
               min_size=1, max_size=8).filter(lambda k: not k.isdigit() and k.strip() == k and k != "")
_scalar = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2))
_tree = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=4), st.dictionaries(_key, inner, min_size=1, max_size=4)), max_leaves=12)


def _expected(value):
    if isinstance(value, dict):
        return {str(k): _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(v) for v in value]
    return phpquery.scalar(value)


@given(st.dictionaries(_key, _tree, min_size=1, max_size=5))
def test_phpquery_round_trip(params):
    assert phpquery.decode(phpquery.encode(params)) == _expected(params)


@given(st.dictionaries(_key, _tree, min_size=1, max_size=5))
def test_batch_command_round_trip(params):
    _name, _, query = codec.encode_command("crm.item.list", params).partition("?")
    assert phpquery.decode(query) == _expected(params)


# ------------------------------------------------------------------ answers

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

ANSWERS = [
    # status, body, expected exception (None = success), expected code
    (200, {"result": {"ID": 1}, "time": {"duration": 0.1}}, None, ""),
    (200, {"result": True}, None, ""),  # no time block at all
    (200, {"error": "ERROR_PLACEMENT_HANDLER", "error_description": "Handler URL is invalid"}, BadRequest,
     "ERROR_PLACEMENT_HANDLER"),
    (400, {"error": "", "error_description": "Field name is too long"}, BadRequest, ""),
    (200, {"error": "", "error_description": "Empty code, still an error"}, BadRequest, ""),
    (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, RateLimited,
     "QUERY_LIMIT_EXCEEDED"),
    (429, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, RateLimited,
     "QUERY_LIMIT_EXCEEDED"),
    (503, {"error": "OVERLOAD_LIMIT", "error_description": "REST API is blocked"}, Overloaded, "OVERLOAD_LIMIT"),
    (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}, OperationTimeLimit,
     "OPERATION_TIME_LIMIT"),
    (401, {"error": "expired_token", "error_description": "The access token provided has expired."}, AuthError,
     "expired_token"),
    (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}, AuthError,
     "NO_AUTH_FOUND"),
    (400, {"error": "invalid_grant", "error_description": "Invalid grant"}, ReauthRequired, "invalid_grant"),
    (403, {"error": "insufficient_scope", "error_description": ""}, AccessDenied, "insufficient_scope"),
    (400, {"error": "ACCESS_DENIED", "error_description": "Access denied."}, AccessDenied, "ACCESS_DENIED"),
    (404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}, MethodNotFound,
     "ERROR_METHOD_NOT_FOUND"),
    (400, {"error": "NOT_FOUND", "error_description": "Not found"}, NotFound, "NOT_FOUND"),
    (500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal"}, ServerError,
     "INTERNAL_SERVER_ERROR"),
    (500, {"error": "PORTAL_DELETED", "error_description": "Portal was deleted"}, ServerError, "PORTAL_DELETED"),
    (502, HTML_502, ServerError, ""),
    (200, HTML_502, ServerError, ""),
    (504, "", ServerError, ""),
    (403, "<html>Forbidden</html>", AccessDenied, ""),
    (400, {"error": "INVALID_REQUEST", "error_description": "Https required."}, BadRequest, "INVALID_REQUEST"),
    (500, {"result": None}, ServerError, ""),
]


@pytest.mark.parametrize("status,body,error,code", ANSWERS)
def test_decode_response(status, body, error, code):
    text = body if isinstance(body, str) else json.dumps(body)
    if error is None:
        response = codec.decode_response(status, text, "crm.item.get")
        assert response.result == body["result"]
        assert response.time == body.get("time")
        return
    with pytest.raises(error) as info:
        codec.decode_response(status, text, "crm.item.get")
    assert info.value.code == code
    assert info.value.status == status
    assert info.value.method == "crm.item.get"
    assert "<html" not in str(info.value)


def test_operation_time_limit_carries_reset_time():
    body = {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked",
            "time": {"operating": 481.2, "operating_reset_at": 1800000300}}
    with pytest.raises(OperationTimeLimit) as info:
        codec.decode_response(429, json.dumps(body), "crm.item.update")
    assert info.value.reset_at == 1800000300


def test_list_answer_total_and_next():
    response = codec.decode_response(200, json.dumps({"result": [1], "total": "120", "next": 50}), "crm.deal.list")
    assert (response.total, response.next) == (120, 50)


@pytest.mark.parametrize("block,expected", [
    ({"operating": 12.5, "operating_reset_at": 1800000100}, (12.5, 1800000100.0)),
    ({"operating": "3", "operating_reset_at": "1800000100"}, (3.0, 1800000100.0)),
    ({"duration": 0.1}, None),
    (None, None),
    ([], None),
    ({"operating": None, "operating_reset_at": 5}, None),
])
def test_operating_of(block, expected):
    assert codec.operating_of(block) == expected


EMPTY_SHAPES = [[], {}]


@pytest.mark.parametrize("empty", EMPTY_SHAPES, ids=["php-list", "object"])
def test_decode_batch_empty_sections(empty):
    answer = {"result": {"a": {"ID": 1}, "b": True}, "result_error": empty, "result_total": empty,
              "result_next": empty, "result_time": {"a": {"operating": 1, "operating_reset_at": 2}}}
    result = codec.decode_batch(answer, {"a": "user.get", "b": "app.option.set"})
    assert result.result == {"a": {"ID": 1}, "b": True}
    assert result.errors == {} and result.total == {} and result.next == {}
    assert result.time["a"]["operating"] == 1


@pytest.mark.parametrize("empty", EMPTY_SHAPES, ids=["php-list", "object"])
def test_decode_batch_everything_failed(empty):
    answer = {"result": empty, "result_error": {"a": {"error": "NOT_FOUND", "error_description": "no item"},
                                                  "b": {"error": "", "error_description": "empty code"}},
              "result_total": empty, "result_next": empty, "result_time": empty}
    result = codec.decode_batch(answer, {"a": "crm.item.get", "b": "userfieldconfig.add"})
    assert result.result == {}
    assert isinstance(result.errors["a"], NotFound) and result.errors["a"].method == "crm.item.get"
    assert isinstance(result.errors["b"], BadRequest) and "empty code" in str(result.errors["b"])
    with pytest.raises(NotFound):
        result.raise_first()


def test_decode_batch_totals_and_numeric_list():
    answer = {"result": [[{"ID": "1"}], [{"ID": "2"}]], "result_error": [],
              "result_total": {"p0": 120}, "result_next": {"p0": "50"}, "result_time": []}
    result = codec.decode_batch(answer, {})
    assert result.result == {"0": [{"ID": "1"}], "1": [{"ID": "2"}]}
    assert result.total == {"p0": 120} and result.next == {"p0": 50}


# ------------------------------------------------------------------ retry rules

@pytest.mark.parametrize("method,params,expected", [
    ("crm.item.get", None, True),
    ("crm.item.list", None, True),
    ("crm.deal.fields", None, True),
    ("profile", None, True),
    ("user.current", None, True),
    ("user.get", None, True),
    ("app.info", None, True),
    ("method.get", None, True),
    ("crm.item.update", {"fields": {"ufCrm5Won": "100.00"}}, True),
    ("crm.deal.update", None, True),
    ("app.option.set", None, True),
    ("placement.bind", None, True),
    ("crm.item.add", None, False),
    ("crm.deal.add", None, False),
    ("userfieldconfig.add", None, False),
    ("user.add", None, False),
    ("crm.timeline.comment.add", None, False),
    ("crm.item.delete", None, False),
    ("event.offline.get", None, False),
    ("event.offline.get", {"clear": 0}, True),
    ("batch", {"cmd": {"a": "crm.item.get?id=1", "b": "crm.item.update?id=1&fields[x]=2"}}, True),
    ("batch", {"cmd": {"a": "crm.item.get?id=1", "b": "crm.item.add?fields[title]=x"}}, False),
])
def test_is_idempotent(method, params, expected):
    assert codec.is_idempotent(method, params) is expected


@pytest.mark.parametrize("attempt,rnd,expected", [
    (0, lambda: 1.0, 0.5), (3, lambda: 1.0, 4.0), (10, lambda: 1.0, 30.0), (10, lambda: 0.0, 0.0),
])
def test_backoff_full_jitter_with_cap(attempt, rnd, expected):
    assert codec.backoff(attempt, rnd) == expected


def test_backoff_floor():
    assert codec.backoff(0, lambda: 0.0, floor=0.5) == 0.5


@pytest.mark.parametrize("location,method,expected", [
    ("https://new.bitrix24.es/rest/profile.json", "profile", "https://new.bitrix24.es/rest/"),
    ("https://new.bitrix24.es/rest/profile", "profile", "https://new.bitrix24.es/rest/"),
    ("https://new.bitrix24.es/rest/1/code/profile.json", "profile", "https://new.bitrix24.es/rest/1/code/"),
    ("https://new.bitrix24.es/login/", "profile", None),
    ("https://new.bitrix24.es/rest/batch.json?x=1", "batch", "https://new.bitrix24.es/rest/"),
])
def test_endpoint_from_location(location, method, expected):
    assert codec.endpoint_from_location(location, method) == expected


def test_json_body_puts_auth_in_body_and_money_as_text():
    body = json.loads(codec.json_body({"fields": {"opportunity": Decimal("10.50")}}, "tok"))
    assert body == {"fields": {"opportunity": "10.50"}, "auth": "tok"}


def test_phpquery_appends_like_php():
    assert phpquery.decode("a[]=1&a[]=2") == {"a": ["1", "2"]}
    assert phpquery.decode("a[5]=x&a[]=y") == {"a": {"5": "x", "6": "y"}}  # PHP: the largest index + 1
    pairs = [("data[a][]", "1")] * 20_000
    assert len(phpquery.unflatten(pairs)["data"]["a"]) == 20_000  # bench/events_hostile.py times it


def test_phpquery_refuses_keys_deeper_than_asked():
    with pytest.raises(phpquery.TooDeep):
        phpquery.unflatten([("a" + "[b]" * 7, "1")], max_depth=6)
    assert phpquery.unflatten([("a" + "[b]" * 5, "1")], max_depth=6)["a"]["b"]["b"]["b"]["b"]["b"] == "1"
