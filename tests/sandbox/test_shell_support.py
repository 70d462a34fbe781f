"""Support for the shell tests: a tiny throwaway Bitrix24 app served on a free port.

The app behaves like a local UI app: its install page binds the card tabs and ONCRMDEALUPDATE with the
AUTH_ID the portal POSTed and answers HTML that calls ``BX24.installFinish()``; its tab page loads the
sandbox's bx24.js and writes what ``BX24.placement.info()`` and ``BX24.callMethod('crm.item.get')``
return into the DOM; its event handler records what the portal POSTs.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from flask import Flask, request
from werkzeug.serving import make_server

TAB_TITLES = {"la": {"TITLE": "Plan de ventas"}, "en": {"TITLE": "Sales plan"}, "ru": {"TITLE": "План продаж"}}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="{bx24}"></script></head>
<body><h1>{heading}</h1><div id="placement"></div><div id="options"></div><div id="title"></div>
<div id="lang"></div><div id="admin"></div><div id="member"></div><div id="error"></div>
<div id="batch"></div><div id="refreshed"></div><div id="path-result"></div>
<button id="open-company" type="button">company</button>
<button id="rename" type="button">rename</button><div id="reloaded"></div>
<button id="open-app" type="button">open app</button><button id="close-app" type="button">close app</button>
<div id="app-closed"></div>
<script>
BX24.init(function () {{
  var info = BX24.placement.info();
  document.getElementById('placement').textContent = info.placement;
  document.getElementById('options').textContent = JSON.stringify(info.options);
  document.getElementById('lang').textContent = BX24.getLang();
  document.getElementById('admin').textContent = BX24.isAdmin() ? 'admin' : 'user';
  document.getElementById('member').textContent = BX24.getAuth().member_id;
  document.getElementById('open-app').addEventListener('click', function () {{
    BX24.openApplication({{from: 'test'}}, function () {{
      document.getElementById('app-closed').textContent = 'closed';
    }});
  }});
  document.getElementById('close-app').addEventListener('click', function () {{ BX24.closeApplication(); }});
  {script}
}});
</script></body></html>"""

TAB_SCRIPT = """
  BX24.callMethod('crm.item.get', {entityTypeId: 2, id: info.options.ID}, function (res) {
    if (res.error()) { document.getElementById('error').textContent = res.error().toString(); return; }
    var deal = res.data().item;
    document.getElementById('title').textContent = deal.title;
    BX24.fitWindow();
    BX24.callBatch({deal: ['crm.deal.get', {id: deal.id}], me: {method: 'user.current', params: {}}},
      function (results) {
        document.getElementById('batch').textContent =
          results.deal.data().TITLE + '|' + results.me.data().ID + '|' + (results.deal.error() ? 'err' : 'ok');
      });
    var before = BX24.getAuth().access_token;
    BX24.refreshAuth(function (auth) {
      document.getElementById('refreshed').textContent =
        auth.access_token && auth.access_token !== before ? 'new token' : 'same token';
    });
    document.getElementById('rename').addEventListener('click', function () {
      BX24.callMethod('crm.deal.update', {id: deal.id, fields: {TITLE: 'Renamed from the tab'}}, function () {
        BX24.placement.call('reloadData', {}, function () {
          document.getElementById('reloaded').textContent = 'reloaded';
        });
      });
    });
    document.getElementById('open-company').addEventListener('click', function () {
      BX24.openPath('/crm/company/details/' + deal.companyId + '/', function (r) {
        document.getElementById('path-result').textContent = r.result;
      });
    });
  });
"""

INSTALL_SCRIPT = "BX24.installFinish();"


class ThrowawayApp:
    """The throwaway app; ``url`` is its base URL, ``events`` what the portal POSTed to /events."""

    def __init__(self, bx24_url: str, call_install_finish: bool = True, bind: bool = True):
        self.bx24_url = bx24_url
        self.call_install_finish = call_install_finish
        self.bind = bind
        self.events: list[dict[str, Any]] = []
        self.install_posts: list[dict[str, Any]] = []
        self.flask = self._build()
        self.server = make_server("127.0.0.1", 0, self.flask, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ThrowawayApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)

    def rest(self, method: str, params: dict[str, Any], auth: str, domain: str, protocol: str) -> dict:
        scheme = "https" if protocol == "1" else "http"
        response = requests.post(f"{scheme}://{domain}/rest/{method}.json", json={**params, "auth": auth},
                                 timeout=30)
        return response.json()

    def _install(self) -> str:
        form = request.form.to_dict()
        self.install_posts.append({"form": form, "args": request.args.to_dict()})
        auth, domain, protocol = form.get("AUTH_ID", ""), request.args["DOMAIN"], request.args["PROTOCOL"]
        if self.bind:
            for code in ("CRM_DEAL_DETAIL_TAB", "CRM_COMPANY_DETAIL_TAB", "CRM_CONTACT_DETAIL_TAB"):
                self.rest("placement.bind", {"PLACEMENT": code, "HANDLER": f"{self.url}/tab",
                                             "TITLE": "Plan de ventas", "LANG_ALL": TAB_TITLES},
                          auth, domain, protocol)
            self.rest("event.bind", {"event": "ONCRMDEALUPDATE", "handler": f"{self.url}/events"},
                      auth, domain, protocol)
        script = INSTALL_SCRIPT if self.call_install_finish else ""
        return PAGE.format(bx24=self.bx24_url, heading="Instalando", script=script)

    def _build(self) -> Flask:
        app = Flask(__name__)

        @app.post("/install")
        def install() -> str:
            return self._install()

        @app.route("/", methods=["GET", "POST"])
        def index() -> str:
            return PAGE.format(bx24=self.bx24_url, heading="Test app main page", script="")

        @app.route("/tab", methods=["GET", "POST"])
        def tab() -> str:
            return PAGE.format(bx24=self.bx24_url, heading="Test app tab", script=TAB_SCRIPT)

        @app.post("/events")
        def events() -> str:
            self.events.append(request.form.to_dict())
            return "ok"

        return app


def register(portal: Any, app: ThrowawayApp, title: str = "Planes de ventas") -> str:
    """Register the test app as a local app in the sandbox; returns its client_id."""
    info = portal.register_app(handler_url=f"{app.url}/", install_url=f"{app.url}/install",
                               scopes=["crm", "placement", "user_brief"], title=title)
    return info["client_id"]
