"""Flask routes: REST (``/rest/...``), the OAuth stand-in (``/oauth/token/``) and the sandbox control API.

Views only parse the request and call the Portal. Control endpoints (app registry, faults, frames) answer
only on loopback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from b24sandbox import errors, oauth
from b24sandbox.apps import public_app
from b24sandbox.auth import Webhook
from b24sandbox.phpform import parse_pairs, parse_str
from b24sandbox.portal import Portal
from b24sandbox.wire import as_int, dumps, merge_params, truthy

log = logging.getLogger(__name__)
bp = Blueprint("sandbox_rest", __name__)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def portal() -> Portal:
    return current_app.extensions["b24_sandbox"]


def json_response(status: int, body: Any) -> Response:
    response = Response(dumps(body), status=status, mimetype="application/json")
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def request_params() -> dict[str, Any]:
    ctype = request.content_type or ""
    if "multipart/" in ctype:
        params = parse_str(request.query_string.decode())
        params.update(parse_pairs(request.form.items(multi=True)))
        return params
    return merge_params(request.query_string.decode(), request.get_data(cache=True), ctype)


@bp.after_request
def cors(response: Response) -> Response:
    if request.path.startswith(("/rest/", "/sandbox/apps/")):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response


@bp.route("/rest/", defaults={"rest_path": ""}, methods=["GET", "POST", "OPTIONS"])
@bp.route("/rest/<path:rest_path>", methods=["GET", "POST", "OPTIONS"])
def rest(rest_path: str) -> Response:
    """``/rest/{method}[.json]`` with ``auth``; ``/rest/{user}/{code}/{method}[.json]`` for webhooks."""
    if request.method == "OPTIONS":
        return Response(status=204)
    parts = [p for p in rest_path.split("/") if p]
    params = request_params()
    if len(parts) >= 2 and parts[0].isdigit():
        if len(parts) != 3:
            return json_response(*_error(errors.method_not_found()))
        auth: Any = Webhook(int(parts[0]), parts[1])
        method = parts[2]
        params.pop("auth", None)
    elif len(parts) == 1:
        method = parts[0]
        auth = params.pop("auth", None) or params.pop("AUTH", None)
    else:
        return json_response(*_error(errors.method_not_found()))
    if method.lower().endswith(".xml"):
        return json_response(*_error(errors.method_not_found()))
    status, body = portal().call(method, params, auth)
    return json_response(status, body)


def _error(exc: errors.RestError) -> tuple[int, dict[str, Any]]:
    return exc.status, exc.body()


@bp.route("/oauth/token/", methods=["GET", "POST"])
@bp.route("/oauth/token", methods=["GET", "POST"])
def oauth_token() -> Response:
    """settings/oauth/auto-renewal.md: refresh with rotation."""
    p = portal()
    params = request_params()
    with p.lock:
        status, body = oauth.refresh(p.store, params, p.token_lifetime, p.member_id, p.client_endpoint,
                                     p.server_endpoint)
    return json_response(status, body)


# control API -------------------------------------------------------------------------------------
def loopback_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.remote_addr not in LOOPBACK:
            return jsonify(error="forbidden", error_description="loopback only"), 403
        return view(*args, **kwargs)
    return wrapper


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return {k: v for k, v in request.values.items()}


@bp.route("/sandbox/apps", methods=["POST"])
@loopback_only
def register_app() -> Any:
    data = _body()
    scopes = data.get("scopes") or []
    if not data.get("handler_url"):
        return jsonify(error="handler_url is required"), 400
    try:
        app = portal().register_app(data["handler_url"], data.get("install_url") or data["handler_url"],
                                    scopes, data.get("title") or "Local app", data.get("client_id"),
                                    data.get("client_secret"))
    except ValueError as exc:
        return jsonify(error=str(exc)), 409
    return jsonify(public_app(app, with_secret=True)), 201


@bp.route("/sandbox/apps", methods=["GET"])
@loopback_only
def list_apps() -> Any:
    return jsonify([public_app(a) for a in portal().apps()])


def _app_or_404(client_id: str) -> dict[str, Any] | None:
    return portal().app(client_id)


@bp.route("/sandbox/apps/<client_id>/install", methods=["POST"])
@loopback_only
def install(client_id: str) -> Any:
    if not _app_or_404(client_id):
        return jsonify(error="unknown app"), 404
    data = _body()
    try:
        outcome = portal().install_app(client_id, int(data.get("user_id") or 1),
                                       finish=truthy(data.get("finish", True)))
    except Exception as exc:  # the app may be down; report, don't crash
        return jsonify(error=type(exc).__name__, error_description=str(exc)), 502
    return jsonify(outcome)


@bp.route("/sandbox/apps/<client_id>/install-finish", methods=["POST", "OPTIONS"])
def install_finish(client_id: str) -> Any:
    """What ``BX24.installFinish()`` calls, with the frame's APP_SID."""
    if request.method == "OPTIONS":
        return Response(status=204)
    if not _app_or_404(client_id):
        return jsonify(error="unknown app"), 404
    sid = _body().get("APP_SID") or request.args.get("APP_SID")
    if not sid:
        return jsonify(error="APP_SID is required"), 400
    try:
        portal().finish_install(client_id, str(sid))
    except PermissionError:
        return jsonify(error="invalid APP_SID"), 403
    return jsonify(result=True, installed=True)


@bp.route("/sandbox/apps/<client_id>/uninstall", methods=["POST"])
@loopback_only
def uninstall(client_id: str) -> Any:
    if not _app_or_404(client_id):
        return jsonify(error="unknown app"), 404
    portal().uninstall_app(client_id, clean=truthy(_body().get("clean", True)))
    return jsonify(result=True)


@bp.route("/sandbox/apps/<client_id>/update", methods=["POST"])
@loopback_only
def update(client_id: str) -> Any:
    app = _app_or_404(client_id)
    if not app:
        return jsonify(error="unknown app"), 404
    data = _body()
    version = as_int(data.get("version"), int(app["version"]) + 1)
    return jsonify(portal().update_app(client_id, int(version or 1),
                                       rotate_token=truthy(data.get("rotate_token", True))))


@bp.route("/sandbox/apps/<client_id>/frame", methods=["GET"])
@loopback_only
def frame(client_id: str) -> Any:
    import json

    if not _app_or_404(client_id):
        return jsonify(error="unknown app"), 404
    options = request.args.get("options")
    data = portal().frame_fields(client_id, int(request.args.get("user_id", 1)),
                                 request.args.get("placement", "DEFAULT"),
                                 json.loads(options) if options else None, request.args.get("lang", "la"))
    return jsonify(data.as_dict())


@bp.route("/sandbox/faults", methods=["GET", "POST"])
@loopback_only
def faults() -> Any:
    if request.method == "GET":
        return jsonify(portal().fault_state())
    try:
        return jsonify(portal().set_faults(_body()))
    except (ValueError, TypeError) as exc:
        return jsonify(error=str(exc)), 400


@bp.route("/sandbox/state", methods=["GET"])
@loopback_only
def state() -> Any:
    return jsonify(portal().state())


@bp.route("/sandbox/events/log", methods=["GET"])
@loopback_only
def events_log() -> Any:
    return jsonify([{k: v for k, v in d.items() if k != "payload"} | {"event_handler_id":
                   d["payload"].get("event_handler_id")} for d in portal().deliveries])


@bp.route("/sandbox/webhooks", methods=["POST"])
@loopback_only
def add_webhook() -> Any:
    data = _body()
    url = portal().add_webhook(int(data.get("user_id") or 1), data.get("scopes"), data.get("code"))
    return jsonify(url=url), 201
