"""The Portal facade: one Bitrix24 portal in one SQLite file.

``portal.call(method, params, auth) -> (status, body)`` is the whole REST surface; the Flask routes in
``rest_api.py`` only parse requests into it. The app registry, install flow, frames and event firing live in
``apps.py`` and ``eventbus.py`` and are reached through this object.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Any

from b24sandbox import apps as apps_mod
from b24sandbox import auth as auth_mod
from b24sandbox import bulk, errors, eventbus, oauth, seed
from b24sandbox.errors import RestError
from b24sandbox.events import EventDispatcher
from b24sandbox.faults import Faults
from b24sandbox.limits import LeakyBucket, OperatingMeter
from b24sandbox.methods import Page, load_all
from b24sandbox.store import Store
from b24sandbox.wire import time_block

log = logging.getLogger(__name__)

Webhook = auth_mod.Webhook
UserSession = auth_mod.UserSession


#: How a portal is hosted. A self-hosted ("box", on-premise) portal has no cloud rate limit, and its operating-time
#: limit is off by default (a very large one here); an admin who enables it gets 420 s per 10 minutes
#: (``POST /sandbox/faults {"operating_limit": 420}``).
PROFILES: dict[str, dict[str, Any]] = {
    "cloud": {"rate_limit": True},
    "selfhosted": {"rate_limit": False, "operating_limit": 1e9},
}


class Portal(apps_mod.AppsMixin, eventbus.EventsMixin):
    """A whole sandbox portal; every public method is thread-safe (one lock)."""

    def __init__(self, state_path: str | Path, seed_name: str = "none", rate_limit: bool = True,
                 token_lifetime: int = 3600, base_url: str = "http://127.0.0.1:5050",
                 domain: str | None = None, operating_limit: float = 480.0, rng_seed: int | None = None,
                 profile: str = "cloud", missing_methods: tuple[str, ...] | list[str] = ()):
        """``profile="selfhosted"``: a portal on the company's own server (PROFILES): no cloud rate limit, the
        operating-time limit off unless enabled (then 420 s). ``missing_methods``: methods an older CRM module
        lacks — they answer ERROR_METHOD_NOT_FOUND and method.get says they do not exist."""
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}")
        self.profile = profile
        rate_limit = rate_limit and PROFILES[profile]["rate_limit"]
        operating_limit = float(PROFILES[profile].get("operating_limit", operating_limit))
        self.lock = threading.RLock()
        self.store = Store(state_path)
        self.base_url = base_url.rstrip("/")
        self._domain = domain
        self.token_lifetime = int(token_lifetime)
        self.faults = Faults()
        self.rng = random.Random(rng_seed)
        self.bucket = LeakyBucket(enabled=rate_limit)
        self.operating = OperatingMeter(limit=operating_limit)
        self.methods = load_all()
        self.missing_methods: set[str] = set()
        self.set_missing_methods(missing_methods)
        self.dispatcher = EventDispatcher(self.faults, random.Random(rng_seed))
        with self.lock:
            if self.store.is_new:
                seed.base(self)
            if seed_name == "demo" and self.store.meta("seeded_demo") is None:
                seed.demo(self)

    # identity --------------------------------------------------------------------------------------
    @property
    def member_id(self) -> str:
        return self.store.meta("member_id") or ""

    @property
    def domain(self) -> str:
        return self._domain or self.base_url.split("://", 1)[-1]

    @property
    def client_endpoint(self) -> str:
        return f"{self.base_url}/rest/"

    @property
    def server_endpoint(self) -> str:
        return f"{self.base_url}/rest/"

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.dispatcher.deliveries)

    def close(self) -> None:
        self.dispatcher.stop()
        self.store.close()

    def add_items(self, entity_type_id: int, rows: Any, user_id: int = 1) -> list[int]:
        """Many items in one transaction, as ``crm.item.add`` makes them but without events (``bulk.py``)."""
        return bulk.add_items(self, entity_type_id, rows, user_id)

    # REST --------------------------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None, auth: Any) -> tuple[int, dict[str, Any]]:
        """One REST call as the wire sees it: (HTTP status, JSON body)."""
        start = time.time()
        params = dict(params or {})
        if self.faults.rest_delay_ms and not isinstance(auth, UserSession):
            time.sleep(self.faults.rest_delay_ms / 1000)
        with self.lock:
            try:
                if not isinstance(auth, UserSession):  # a person clicking in the shell is not a REST client
                    failure = self.faults.rest_failure(self.rng)
                    if failure == 503:
                        raise errors.query_limit()
                    if failure == 500:
                        raise errors.internal_error()
                    if not self.bucket.hit():
                        raise errors.query_limit()
                ctx = auth_mod.resolve(self.store, auth)
                result, op_key = self.dispatch(method, params, ctx)
            except RestError as exc:
                return exc.status, exc.body()
            except Exception:
                log.exception("sandbox method %s crashed", method)
                return 500, errors.internal_error().body()
            finish = time.time()
            body: dict[str, Any] = {"result": result.result if isinstance(result, Page) else result}
            if isinstance(result, Page):
                if result.total is not None:
                    body["total"] = result.total
                if result.next is not None:
                    body["next"] = result.next
            body["time"] = self.time_for(op_key, start, finish)
            return 200, body

    def time_for(self, op_key: tuple[str, str] | None, start: float, finish: float) -> dict[str, Any]:
        if op_key is None:
            return time_block(start, finish, finish - start, 0.0, start + 600)
        return time_block(start, finish, finish - start, self.operating.operating(op_key),
                          self.operating.reset_at(op_key))

    def dispatch(self, method: str, params: dict[str, Any], ctx: auth_mod.AuthContext,
                 in_batch: bool = False) -> tuple[Any, tuple[str, str] | None]:
        """Run one method for an authenticated caller (also used for batch sub-calls)."""
        name = method.strip().strip("/").lower()
        if name.endswith(".json"):
            name = name[:-5]
        spec = None if name in self.missing_methods else self.methods.get(name)
        if spec is None:
            raise errors.method_not_found()
        if in_batch and name == "batch":
            raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
        if spec.app_only and ctx.kind != "oauth":
            if name == "app.info":
                raise errors.access_denied("Access denied! Application context required", 400)
            raise errors.wrong_auth_type()
        if not ctx.has_scope(spec.scope, spec.alt_scopes):
            raise errors.insufficient_scope()
        if name == "batch":  # the outer batch call is not counted in operating (limits.md)
            return spec.func(self, ctx, params), None
        op_key = (ctx.operating_key, name)
        if self.operating.blocked(op_key):
            raise errors.operation_time_limit()
        began = time.perf_counter()
        try:
            return spec.func(self, ctx, params), op_key
        finally:
            self.operating.record(op_key, time.perf_counter() - began + self.faults.cost_of(name))

    # users and rights ------------------------------------------------------------------------------
    def user(self, user_id: int) -> dict[str, Any] | None:
        return self.store.doc("users", int(user_id))

    def is_admin(self, user_id: int) -> bool:
        user = self.user(user_id)
        return bool(user and user.get("ADMIN"))

    def crm_access(self, user_id: int) -> str:
        """``admin`` (CRM settings), ``all`` (every item), ``own`` (items assigned to them) or ``none``."""
        user = self.user(user_id)
        if not user:
            return "none"
        if user.get("ADMIN"):
            return "admin"
        return str(user.get("CRM_ACCESS", "own"))

    def notifications(self, user_id: int) -> list[dict[str, Any]]:
        """``im.notify.system.add`` messages for a user, newest first (the shell's bell)."""
        with self.lock:
            return list(reversed(self.store.docs("notifications", "user_id = ?", [int(user_id)])))

    # faults ------------------------------------------------------------------------------------------
    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            changes = dict(changes)
            if changes.pop("expire_tokens", False):
                oauth.expire_all(self.store)
            if "token_lifetime" in changes:
                lifetime = int(changes.pop("token_lifetime"))
                if lifetime < 1:
                    raise ValueError("token_lifetime must be >= 1")
                self.token_lifetime = lifetime
            if "missing_methods" in changes:
                self.set_missing_methods(changes.pop("missing_methods"))
            if "operating_limit" in changes:
                self.operating.limit = float(changes.pop("operating_limit"))
            if "rate_limit" in changes:
                self.bucket.enabled = bool(changes.pop("rate_limit"))
                self.bucket.reset()
            if "rate_burst" in changes or "rate_per_second" in changes:  # Enterprise: 250 / 5
                burst = int(changes.pop("rate_burst", self.bucket.burst))
                per_second = float(changes.pop("rate_per_second", self.bucket.per_second))
                if burst < 1 or per_second <= 0:
                    raise ValueError("rate_burst must be >= 1 and rate_per_second > 0")
                self.bucket.burst, self.bucket.per_second = burst, per_second
                self.bucket.reset()
            self.faults.update(changes)
            self.dispatcher.wake()
            return self.fault_state()

    def set_missing_methods(self, names: Any) -> None:
        """The methods this portal's (older) modules lack; ``batch`` and ``method.get`` are always there."""
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError("missing_methods must be a list of method names")
        with self.lock:
            self.missing_methods = {n.strip().lower() for n in names} - {"batch", "method.get"}

    def fault_state(self) -> dict[str, Any]:
        return {**self.faults.as_dict(), "token_lifetime": self.token_lifetime,
                "operating_limit": self.operating.limit, "rate_limit": self.bucket.enabled,
                "rate_burst": self.bucket.burst, "rate_per_second": self.bucket.per_second,
                "profile": self.profile, "missing_methods": sorted(self.missing_methods)}

    def state(self) -> dict[str, Any]:
        """Who this portal is (``GET /sandbox/state``)."""
        with self.lock:
            return {"member_id": self.member_id, "domain": self.domain, "client_endpoint": self.client_endpoint,
                    "server_endpoint": self.server_endpoint, "webhook": f"{self.base_url}/rest/1/sandbox/",
                    "oauth": f"{self.base_url}/oauth/token/", "base_currency": self.store.meta("base_currency"),
                    "apps": [{"client_id": a["client_id"], "title": a["title"], "installed": a["installed"]}
                             for a in self.store.docs("apps")]}

    # webhooks ----------------------------------------------------------------------------------------
    def add_webhook(self, user_id: int, scopes: list[str] | None = None, code: str | None = None) -> str:
        import secrets

        with self.lock:
            code = code or secrets.token_hex(8)
            scope_text = ",".join(scopes) if scopes else ",".join(sorted(auth_mod.ALL_SCOPES))
            self.store.db["webhooks"].upsert({"user_id": int(user_id), "code": code, "scopes": scope_text},
                                             pk=("user_id", "code"))
            return f"{self.base_url}/rest/{int(user_id)}/{code}/"
