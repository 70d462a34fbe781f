"""A tiny threaded Bitrix24 stand-in on 127.0.0.1 for tests that need several real processes.

REST at ``/rest/{method}.json`` (token in the JSON body's ``auth``) and webhooks at
``/rest/{user}/{code}/{method}.json``, a leaky bucket like the cloud's (burst X, drain Y/s; beyond it
503 QUERY_LIMIT_EXCEEDED), and an OAuth token endpoint at ``/oauth/token/`` that rotates the pair
(slowly, to make races likely).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class StubPortal:
    def __init__(self, burst: int | None = None, per_second: float = 2.0, access: str = "", refresh: str = "",
                 refresh_delay: float = 0.0, member_id: str = ""):
        self.burst, self.per_second = burst, per_second
        self.access, self.refresh, self.member_id = access, refresh, member_id
        self.refresh_delay = refresh_delay
        self.lock = threading.Lock()
        self.level = 0.0
        self.updated = time.monotonic()
        self.accepted = 0
        self.rejected = 0  # QUERY_LIMIT_EXCEEDED answers
        self.refreshes = 0
        self.expired_answers = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StubPortal:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # ------------------------------------------------------------ behaviour

    def take_slot(self) -> bool:
        if self.burst is None:
            return True
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.updated) * self.per_second)
            self.updated = now
            if self.level + 1 > self.burst:
                self.rejected += 1
                return False
            self.level += 1
            self.accepted += 1
            return True

    def rest(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self.take_slot():
            return 503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        if not re.match(r"^/rest/\d+/[^/]+/", path):  # webhooks need no auth
            with self.lock:
                current = self.access
            if body.get("auth") != current:
                with self.lock:
                    self.expired_answers += 1
                return 401, {"error": "expired_token", "error_description": "The access token provided has expired."}
        return 200, {"result": {"ID": "1"}, "time": {"duration": 0.001}}

    def oauth(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        time.sleep(self.refresh_delay)
        with self.lock:
            if query.get("refresh_token", [""])[0] != self.refresh or query.get("grant_type") != ["refresh_token"]:
                return 400, {"error": "invalid_grant", "error_description": "Invalid grant"}
            self.refreshes += 1
            self.access = f"access-rotated-{self.refreshes:04d}"
            self.refresh = f"refresh-rotated-{self.refreshes:04d}"
            return 200, {"access_token": self.access, "refresh_token": self.refresh, "expires_in": 3600,
                         "client_endpoint": self.base + "/rest/", "member_id": self.member_id}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._answer(*stub.rest(urlsplit(self.path).path, body))

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/oauth/token/":
                    self._answer(*stub.oauth(parse_qs(parts.query)))
                else:
                    self._answer(404, {"error": "NOT_FOUND", "error_description": ""})

        return Handler
