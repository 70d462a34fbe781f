import logging

import pytest

from b24app.logsafe import RedactingFilter, redact, register_secret


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET https://acme.bitrix24.es/rest/profile?auth=tok123456&x=1", "tok123456"),
        ('{"access_token": "at-98765", "ok": 1}', "at-98765"),
        ("refresh_token=rt-55555&grant_type=refresh_token", "rt-55555"),
        ("auth[application_token]=appsecret99", "appsecret99"),
        ("form AUTH_ID=abc123def REFRESH_ID=zyx987", "abc123def"),
        ("client_secret: 'cs-000111'", "cs-000111"),
        ('"GET /plans/999/edit?_s=ImFiYyI.awjmTw.zyrgZvvD HTTP/1.1" 502 -', "ImFiYyI.awjmTw.zyrgZvvD"),
        ('"GET /plans/export.csv?sort=amount&_s=ImFiYyI.awjmTw.zyrg HTTP/1.1" 500 -', "ImFiYyI.awjmTw.zyrg"),
    ],
)
def test_token_shaped_values_are_masked(text, secret):
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_registered_secrets_are_masked_anywhere():
    register_secret("very-private-value-42")
    assert "very-private-value-42" not in redact("the value very-private-value-42 leaked")


def test_filter_rewrites_log_records(caplog):
    logger = logging.getLogger("b24app.test.logsafe")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger="b24app.test.logsafe"):
        logger.debug("calling %s with auth=%s", "crm.item.get", "s3cr3t-token")
    assert "s3cr3t-token" not in caplog.text
    assert "crm.item.get" in caplog.text


def test_ordinary_parameters_ending_in_s_are_kept():
    line = '"GET /?plans_s=5&status=P HTTP/1.1" 200 -'
    assert redact(line) == line


def test_a_failed_request_with_a_session_token_is_logged_without_it(caplog):
    """werkzeug logs failed requests with their query string; the frame session must not reach the log."""
    import logging

    from b24app.logsafe import install

    install("INFO")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "%s" %s -', "GET /plans/9/edit?_s=SeSsIoN.tok.sig HTTP/1.1",
                                           502)
    assert "SeSsIoN.tok.sig" not in caplog.text
    assert "/plans/9/edit" in caplog.text


def test_json_lines_are_redacted_and_parse(caplog):
    import json
    import logging

    from b24app import logsafe

    logsafe.register_secret("json-secret-token-123456")
    record = logging.LogRecord("b24app.x", logging.WARNING, __file__, 1, "refresh with %s\nforged line",
                               ("json-secret-token-123456",), None)
    logsafe.RedactingFilter().filter(record)
    line = logsafe.JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line and entry["level"] == "WARNING" and entry["logger"] == "b24app.x"
    assert "json-secret-token-123456" not in line and "***" in entry["message"]
