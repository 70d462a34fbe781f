"""The sandbox's own PHP form codec. Every expected value is what PHP 8.2's ``parse_str()`` and
``http_build_query()`` give for the same input (checked with the php command line when the table was written)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24sandbox.phpform import http_build_query, parse_pairs, parse_str

PARSE = [
    ("a=1&b=2", {"a": "1", "b": "2"}),
    ("a[b][c]=1", {"a": {"b": {"c": "1"}}}),
    ("a[]=x&a[]=y", {"a": ["x", "y"]}),
    ("a[]=1&a[5]=2&a[]=3", {"a": {"0": "1", "5": "2", "6": "3"}}),     # [] appends after the highest int key
    ("a[-3]=1&a[]=2", {"a": {"-3": "1", "-2": "2"}}),
    ("a[01]=1&a[]=2", {"a": {"01": "1", "0": "2"}}),                    # "01" is a string key
    ("a[-0]=1&a[]=2", {"a": {"-0": "1", "0": "2"}}),
    ("a[1]=x&a[0]=y", {"a": {"1": "x", "0": "y"}}),                     # a list only when 0..n-1 in order
    ("a[0]=x&a[1]=y", {"a": ["x", "y"]}),
    ("a[0]=x&a[2]=y", {"a": {"0": "x", "2": "y"}}),
    ("a=1&a=2", {"a": "2"}),                                             # the last one wins
    ("a=1&a[b]=2", {"a": {"b": "2"}}),                                  # an array replaces a scalar
    ("a[b]=1&a=2", {"a": "2"}),                                          # and the other way round
    ("a[]=1&a=2&a[]=3", {"a": ["3"]}),
    ("a.b=1", {"a_b": "1"}),                                             # top-level dots and spaces become _
    ("a b=1", {"a_b": "1"}),
    (" a=1", {"a": "1"}),
    ("%20a=1", {"a": "1"}),
    ("a.b[c.d]=1", {"a_b": {"c.d": "1"}}),                              # but not inside brackets
    ("a.[b]=1", {"a_": {"b": "1"}}),
    ("a[ b]=1", {"a": {" b": "1"}}),
    ("a[+]=1&a[%09]=2&a[++]=3", {"a": {"0": "1", "1": "2", "  ": "3"}}),  # one blank character: []
    ("a[b=1", {"a_b": "1"}),                                             # an unclosed [ is not an index
    ("a[b.c=1", {"a_b_c": "1"}),
    ("a[b[c=1", {"a_b_c": "1"}),
    ("a[x][b=1", {"a": {"x": "1"}}),
    ("a[b][c", {"a": {"b": ""}}),
    ("a[b]c=1", {"a": {"b": "1"}}),                                     # text after ] is ignored
    ("a[b]]=1", {"a": {"b": "1"}}),
    ("a[[b]=1", {"a": {"[b": "1"}}),
    ("[a]=1", {}),                                                       # no name: skipped
    ("[a=1", {}),
    (".[a=1", {"__a": "1"}),
    ("=x", {}),
    ("a", {"a": ""}),
    ("a[]", {"a": [""]}),
    ("a=%zz%41", {"a": "%zzA"}),                                         # a stray % stays
    ("a%00b[c]=1&x=%00", {"a": "1", "x": "\0"}),                         # a name ends at NUL, a value does not
    ("a=%E2%82%AC+x", {"a": "€ x"}),
    ("a%5Bb%5D=1", {"a": {"b": "1"}}),                                  # names are decoded first
    ("a=b=c", {"a": "b=c"}),
    ("a=1&&b=2", {"a": "1", "b": "2"}),
    ("&a=1&", {"a": "1"}),
    ("a[9223372036854775807]=1&a[]=2", {"a": {"9223372036854775807": "1"}}),  # no index left: dropped
    ("a[9223372036854775808]=1&a[]=2", {"a": {"9223372036854775808": "1", "0": "2"}}),
    ("filter[%3E%3DDATE_CREATE]=2026-01-01&filter[%40ID][]=1&filter[%40ID][]=2",
     {"filter": {">=DATE_CREATE": "2026-01-01", "@ID": ["1", "2"]}}),
    ("filter[>=ID]=5", {"filter_>": "ID]=5"}),                          # an unescaped = ends the name
    ("filter[0][logic]=OR&filter[0][0][%3DstageId]=WON&filter[0][1][%3Eopportunity]=5",
     {"filter": [{"logic": "OR", "0": {"=stageId": "WON"}, "1": {">opportunity": "5"}}]}),
    ("cmd[a]=crm.item.list%3FentityTypeId%3D2%26select%5B%5D%3Did&cmd[b]=profile&halt=0",
     {"cmd": {"a": "crm.item.list?entityTypeId=2&select[]=id", "b": "profile"}, "halt": "0"}),
    ("fields[contactIds][]=3&fields[contactIds][]=4&fields[TITLE]=Acme+%26+Co",
     {"fields": {"contactIds": ["3", "4"], "TITLE": "Acme & Co"}}),
    ("select[]=ID&select[]=TITLE&order[ID]=DESC", {"select": ["ID", "TITLE"], "order": {"ID": "DESC"}}),
    ("a" + "[x]" * 65 + "=1&b=2&a[y]=3", {"b": "2", "a": {"y": "3"}}),  # > 64 levels: the variable is dropped
]


@pytest.mark.parametrize(("query", "expected"), PARSE)
def test_parse_str_reads_forms_as_php_does(query, expected):
    assert parse_str(query) == expected


def test_sixty_four_levels_of_brackets_are_kept():
    node = parse_str("a" + "[x]" * 64 + "=1")["a"]
    for _ in range(63):
        node = node["x"]
    assert node == {"x": "1"}


def test_multipart_fields_are_nested_like_a_form_body():
    assert parse_pairs([("auth", "t"), ("fields[TITLE]", "a+b"), ("fields[ids][]", "1"), ("fields[ids][]", "2")]) == {
        "auth": "t", "fields": {"TITLE": "a+b", "ids": ["1", "2"]}}


BUILD = [
    ({"event": "ONCRMDEALADD", "data": {"FIELDS": {"ID": "5"}}, "ts": "1"},
     "event=ONCRMDEALADD&data%5BFIELDS%5D%5BID%5D=5&ts=1"),
    ({"a": True, "b": False, "c": None, "h": 3, "i": [], "j": "x y~*'()!é/:?&=+\"<>#%"},
     "a=1&b=0&h=3&j=x+y%7E%2A%27%28%29%21%C3%A9%2F%3A%3F%26%3D%2B%22%3C%3E%23%25"),
    ({"a": ["x", "y"], "b": {5: "z"}, 0: "n", "c d": {"e f": "g"}, "ñ": {"[k]": "v"}},
     "a%5B0%5D=x&a%5B1%5D=y&b%5B5%5D=z&0=n&c+d%5Be+f%5D=g&%C3%B1%5B%5Bk%5D%5D=v"),
    ({"a": [[]], "b": [{"c": None}], "d": {"e": [], "f": "1"}}, "d%5Bf%5D=1"),  # empty arrays and null: left out
    ({"d": 1.0, "e": 0.1, "f": 1e25, "g": -0.0, "k": 1.5e-7, "m": 123456789012345678.0, "n": 100.0, "o": 1e15,
      "p": 1e14, "q": 0.0001, "r": 0.00001, "s": -2.5, "t": 1 / 3},
     "d=1&e=0.1&f=1.0E%2B25&g=-0&k=1.5E-7&m=1.2345678901235E%2B17&n=100&o=1.0E%2B15&p=1.0E%2B14&q=0.0001"
     "&r=1.0E-5&s=-2.5&t=0.33333333333333"),
    ({"event": "ONOFFLINEEVENT", "event_handler_id": "3", "data": {}, "ts": "1700000000",
      "auth": {"domain": "127.0.0.1:5050", "member_id": "abc"}},
     "event=ONOFFLINEEVENT&event_handler_id=3&ts=1700000000&auth%5Bdomain%5D=127.0.0.1%3A5050"
     "&auth%5Bmember_id%5D=abc"),
]


@pytest.mark.parametrize(("data", "expected"), BUILD)
def test_http_build_query_writes_event_bodies_as_php_does(data, expected):
    assert http_build_query(data) == expected


def test_http_build_query_refuses_what_php_has_no_scalar_for():
    with pytest.raises(TypeError):
        http_build_query({"a": object()})


names = st.text(alphabet="abcXYZ_-09", min_size=1, max_size=6).filter(lambda s: not s.isdigit())
values = st.recursive(st.text(max_size=8), lambda inner: st.dictionaries(names, inner, min_size=1, max_size=3)
                      | st.lists(inner, min_size=1, max_size=3), max_leaves=8)


@given(st.dictionaries(names, values, max_size=4))
def test_what_http_build_query_writes_parse_str_reads_back(data):
    assert parse_str(http_build_query(data)) == data
