"""batch: up to 50 sub-calls in one request, with ``$result[key][path]`` references.

settings/how-to-call-rest-api/batch.md. Sub-call strings are ``method?query`` (PHP-bracket query); the query
is percent-decoded first, then references are substituted into the values. HTTP 200 even when sub-calls fail.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from b24sandbox.auth import AuthContext
from b24sandbox.errors import RestError
from b24sandbox.methods import Page, method, param
from b24sandbox.phpform import parse_str
from b24sandbox.wire import php_keyed, truthy

if TYPE_CHECKING:
    from b24sandbox.portal import Portal

log = logging.getLogger(__name__)
MAX_COMMANDS = 50
_REF = re.compile(r"\$(result_error|result_total|result_next|result_time|result)\[([^\]\[]+)\]((?:\[[^\]\[]*\])*)")
_PART = re.compile(r"\[([^\]\[]*)\]")


def _lookup(root: dict[str, Any], key: str, path: str) -> Any:
    node: Any = root.get(key)
    for part in _PART.findall(path):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _text(value: Any) -> str:
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    return str(value)


def substitute(value: Any, sections: dict[str, dict[str, Any]]) -> Any:
    """Replace ``$result[...]`` (and ``$result_error``/``_total``/``_next``/``_time``) in every string value.

    A reference to something missing becomes an empty string (PHP's null)."""
    if isinstance(value, dict):
        return {k: substitute(v, sections) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, sections) for v in value]
    if not isinstance(value, str) or "$result" not in value:
        return value

    def resolve(match: re.Match[str]) -> Any:
        return _lookup(sections[match.group(1)], match.group(2), match.group(3))

    whole = _REF.fullmatch(value)
    if whole:
        found = resolve(whole)
        return found if isinstance(found, dict | list) else _text(found)
    return _REF.sub(lambda m: _text(resolve(m)), value)


def parse_command(command: str) -> tuple[str, dict[str, Any]]:
    name, _, query = str(command).partition("?")
    return name.strip(), parse_str(query) if query else {}


@method("batch")
def batch(portal: Portal, ctx: AuthContext, params: dict[str, Any]) -> Any:
    commands = param(params, "cmd", "CMD", default={}) or {}
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if not isinstance(commands, dict):
        raise RestError("ERROR_BATCH_WRONG_PARAMS", "Wrong parameters", 400)
    if len(commands) > MAX_COMMANDS:
        raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
    halt = truthy(param(params, "halt", "HALT", default=False))
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    for key, command in commands.items():
        key = str(key)
        name, sub_params = parse_command(command)
        sub_params = substitute(sub_params, {"result": results, "result_error": errors, "result_total": totals,
                                             "result_next": nexts, "result_time": times})
        start = time.time()
        op_key = None
        try:
            outcome, op_key = portal.dispatch(name, sub_params, ctx, in_batch=True)
        except RestError as exc:
            errors[key] = {"error": exc.code, "error_description": exc.description}
        except Exception:
            log.exception("batch sub-call %s crashed", name)
            errors[key] = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
        else:
            if isinstance(outcome, Page):
                results[key] = outcome.result
                if outcome.total is not None:
                    totals[key] = outcome.total
                if outcome.next is not None:
                    nexts[key] = outcome.next
            else:
                results[key] = outcome
            times[key] = portal.time_for(op_key, start, time.time())  # failed commands get no time (batch.md)
        if halt and key in errors:
            break
    return {"result": php_keyed(results), "result_error": php_keyed(errors), "result_total": php_keyed(totals),
            "result_next": php_keyed(nexts), "result_time": php_keyed(times)}
