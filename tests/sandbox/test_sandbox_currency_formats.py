"""The sandbox's currency formats are Bitrix24's shape (api-reference/crm/currency/crm-currency-list.md, -get.md,
localizations/): the list carries the portal language's format flat (``LID``), get adds ``LANG`` for every
language with ``THOUSANDS_VARIANT`` and ``HIDE_ZERO``; an update's ``LANG`` changes them."""

from __future__ import annotations


def test_the_list_has_the_portal_languages_format_and_get_every_languages(hook):
    listed = {c["CURRENCY"]: c for c in hook.result("crm.currency.list")}
    usd = listed["USD"]
    assert "LANG" not in usd
    assert (usd["LID"], usd["FORMAT_STRING"], usd["DEC_POINT"], usd["THOUSANDS_SEP"], usd["DECIMALS"]) == (
        "la", "#&nbsp;US$", ",", ".", "2")
    got = hook.result("crm.currency.get", {"id": "RUB"})
    assert set(got["LANG"]) == {"la", "en", "ru"}
    ru = got["LANG"]["ru"]
    assert (ru["FORMAT_STRING"], ru["DEC_POINT"], ru["THOUSANDS_VARIANT"], ru["HIDE_ZERO"]) == (
        "#&nbsp;&#8381;", ",", "B", "N")
    assert got["LANG"]["en"]["FORMAT_STRING"] == "&#8381;#" and got["LANG"]["en"]["THOUSANDS_VARIANT"] == "C"
    assert got["LANG"]["ru"]["FULL_NAME"] == "Российский рубль"


def test_an_update_of_a_language_changes_its_format_and_the_portal_languages_shows_in_the_list(hook):
    hook.call("crm.currency.update", {"id": "RUB", "fields": {"LANG": {
        "la": {"FORMAT_STRING": "#&nbsp;₽", "THOUSANDS_VARIANT": "S", "HIDE_ZERO": "Y"},
        "en": {"DECIMALS": "0"}}}})
    got = hook.result("crm.currency.get", {"id": "RUB"})["LANG"]
    assert (got["la"]["FORMAT_STRING"], got["la"]["THOUSANDS_VARIANT"], got["la"]["HIDE_ZERO"]) == (
        "#&nbsp;₽", "S", "Y")
    assert got["la"]["DEC_POINT"] == "," and got["en"]["DECIMALS"] == "0" and got["en"]["FORMAT_STRING"] == "&#8381;#"
    listed = {c["CURRENCY"]: c for c in hook.result("crm.currency.list")}
    assert listed["RUB"]["FORMAT_STRING"] == "#&nbsp;₽"
    added = hook.result("crm.currency.add", {"fields": {"CURRENCY": "JPY", "AMOUNT": "0.0067", "AMOUNT_CNT": 1,
                                                        "LANG": {"en": {"FORMAT_STRING": "¥#", "DECIMALS": 0}}}})
    assert added == "JPY"
    jpy = hook.result("crm.currency.get", {"id": "JPY"})["LANG"]
    assert jpy["en"]["FORMAT_STRING"] == "¥#" and jpy["en"]["DECIMALS"] == "0"
    assert jpy["la"]["FORMAT_STRING"] == "#&nbsp;JPY"
