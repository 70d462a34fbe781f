"""B24Client: every call the app makes to a Bitrix24 portal goes through here.

Docs: ``settings/how-to-call-rest-api/general-principles.md`` (JSON bodies, ``auth``), ``.../batch.md``,
``.../change-domen.md`` (302 on a renamed portal), ``limits.md`` (rate and operating limits).
One client per thread (it owns a ``requests.Session``); the rate limiter, method holds and refresh
lock are shared through the app's database, so any number of clients and processes may run at once.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from b24app.installations import Installation, InstallationStore
from b24app.logsafe import RedactingFilter, register_secret
from b24app.rest import codec, listing
from b24app.rest.codec import BatchResult, Command, Response
from b24app.rest.errors import (
    AuthError,
    OperationTimeLimit,
    Overloaded,
    RateLimited,
    ServerError,
    TransportError,
)
from b24app.rest.limiter import PortalGate, open_db
from b24app.rest.oauth import TokenRefresher, require_active
from b24app.settings import BY_NAME

log = logging.getLogger(__name__)

# urllib3 logs request lines (with the OAuth query string) at DEBUG: mask them at the source too.
_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, RedactingFilter) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(RedactingFilter())

_METHOD_RE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 3
MAX_REFRESHES = 2  # a rotated-by-someone-else token may itself be stale; then refresh for real


class _Moved(Exception):
    """The portal answered with a redirect to another host (a renamed portal, or someone else's server)."""

    def __init__(self, status: int, endpoint: str):
        super().__init__(endpoint)
        self.status = status
        self.endpoint = endpoint


def _setting(config: Mapping[str, Any], name: str) -> Any:
    value = config.get(name)
    return BY_NAME[name].default if value is None else value


class B24Client:
    """A Bitrix24 REST client bound to one portal endpoint and one way of authenticating.

    Build it with :meth:`for_installation`, :meth:`for_webhook` or :meth:`for_user_token`.
    ``sleep``, ``clock`` and ``rnd`` are injectable so tests never really wait.
    """

    def __init__(self, endpoint: str, config: Mapping[str, Any], *, token: str | None = None,
                 member_id: str | None = None, refresher: TokenRefresher | None = None,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, rnd: Callable[[], float] = random.random,
                 max_hold: float = 660.0):
        if not codec.is_rest_endpoint(endpoint):
            raise ValueError("a REST endpoint looks like https://portal/rest/ or https://portal/rest/1/code/")
        self.endpoint = endpoint
        self.config = config
        self.member_id = member_id
        self._token = token
        self._refresher = refresher
        self.session = session or requests.Session()
        self.sleep, self.clock, self.rnd = sleep, clock, rnd
        self.max_hold = max_hold
        self.database = str(_setting(config, "DATABASE"))
        self.rate = float(_setting(config, "RATE_PER_SECOND"))
        self.max_retries = int(_setting(config, "MAX_RETRIES"))
        self.timeout = (float(_setting(config, "HTTP_CONNECT_TIMEOUT")), float(_setting(config, "HTTP_READ_TIMEOUT")))
        self.gate = PortalGate(self.database, urlsplit(endpoint).netloc.lower(),
                               capacity=float(_setting(config, "RATE_BURST")), rate=self.rate,
                               operating_limit=float(_setting(config, "OPERATING_LIMIT")), clock=clock)
        self.http_calls = 0  # HTTP requests sent by this client (benchmarks and tests count them)

    # ------------------------------------------------------------ constructors

    @classmethod
    def for_installation(cls, member_id: str, config: Mapping[str, Any], **kwargs: Any) -> B24Client:
        """OAuth client for an installed portal: stored admin tokens, refreshed on ``expired_token``."""
        database = open_db(str(_setting(config, "DATABASE")))
        try:
            inst = InstallationStore(database).find(member_id)
        finally:
            database.close()
        _check_installation(inst)
        assert inst is not None
        register_secret(inst.access_token, inst.refresh_token, inst.application_token)
        session = kwargs.pop("session", None) or requests.Session()
        refresher = TokenRefresher(config, session, clock=kwargs.get("clock", time.time))
        return cls(inst.client_endpoint, inst.rest_config(config), token=inst.access_token, member_id=inst.member_id,
                   refresher=refresher, session=session, **kwargs)

    @classmethod
    def for_webhook(cls, url: str, config: Mapping[str, Any], **kwargs: Any) -> B24Client:
        """Incoming-webhook client (``https://portal/rest/{user}/{code}/``): no ``auth``, no refresh."""
        url = url if url.endswith("/") else url + "/"
        parts = urlsplit(url).path.rstrip("/").split("/")
        if len(parts) < 4 or parts[-3] != "rest":
            raise ValueError("a webhook URL looks like https://portal/rest/{user}/{code}/")
        if len(parts[-1]) >= 10:  # real codes are 16 random characters; the sandbox's "sandbox" is public
            register_secret(parts[-1])
        return cls(url, config, **kwargs)

    @classmethod
    def for_user_token(cls, installation: Installation, access_token: str, config: Mapping[str, Any],
                       **kwargs: Any) -> B24Client:
        """A frame user's ``AUTH_ID`` against the stored installation's endpoint; no refresh. It works while
        the stored admin tokens await re-authorisation: it never uses them."""
        _check_installation(installation, own_token=True)
        register_secret(access_token)
        kwargs.setdefault("max_hold", 30.0)  # a person is waiting: do not hold for minutes
        return cls(installation.client_endpoint, installation.rest_config(config), token=access_token,
                   member_id=installation.member_id, **kwargs)

    def close(self) -> None:
        self.session.close()
        self.gate.close()

    def __enter__(self) -> B24Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"B24Client(portal={urlsplit(self.endpoint).netloc!r}, member_id={self.member_id!r})"

    # ------------------------------------------------------------ public calls

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one method and return its ``result``; raises a B24Error subclass."""
        return self.call_raw(method, params).result

    def call_raw(self, method: str, params: Mapping[str, Any] | None = None) -> Response:
        """Call one method and return the whole answer (``result``, ``total``, ``next``, ``time``)."""
        _check_method(method)
        if method.lower() == "batch":
            raise ValueError("use batch() for batch calls")
        response = self._request(method, params, [method], codec.is_idempotent(method, params))
        self.gate.holds.record(method, response.time)
        return response

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult:
        """Run up to 50 commands in one HTTP call; results and errors come back per command key."""
        for method, _params in commands.values():
            _check_method(method)
        params = codec.batch_params(commands, halt)
        methods = {key: method for key, (method, _p) in commands.items()}
        response = self._request("batch", params, methods.values(), codec.commands_idempotent(commands))
        result = codec.decode_batch(response.result, methods)
        self.gate.holds.record_all((methods[k], t) for k, t in result.time.items() if k in methods)
        for key, error in result.errors.items():
            if isinstance(error, OperationTimeLimit):  # a blocked sub-command holds its method too
                self.gate.holds.block(methods.get(key, ""), error.reset_at)
        return result

    def batch_all(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult:
        """Any number of commands, sent 50 per batch in order; one merged BatchResult."""
        items = list(commands.items())
        codec.check_batch({k: v for k, v in items[:1]})
        merged = BatchResult()
        for start in range(0, len(items), codec.MAX_BATCH):
            merged.merge(self.batch(dict(items[start:start + codec.MAX_BATCH]), halt=halt))
            if halt and merged.errors:
                break
        return merged

    def list_all(self, method: str, params: Mapping[str, Any] | None = None, items_key: str | None = "auto",
                 id_field: str | None = None, estimate: int | None = None) -> list[dict[str, Any]]:
        """Every row of a list method in the fast mode, up to 2,500 rows per HTTP call (see listing)."""
        return listing.list_all(self, method, params, items_key=items_key, id_field=id_field, estimate=estimate)

    def get_many(self, entity_type_id: int, ids: Iterable[int],
                 select: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """``crm.item.list`` rows for the given ids (``@id``, 50 per command, 50 commands per batch)."""
        return listing.get_many(self, entity_type_id, ids, select)

    # ------------------------------------------------------------ the loop

    def _request(self, method: str, params: Mapping[str, Any] | None, hold_methods: Iterable[str],
                 idempotent: bool) -> Response:
        hold_methods = sorted({method, *hold_methods})  # a batch waits for holds on any of its methods
        attempt = refreshes = moves = 0
        while True:
            self._wait_for_holds(method, hold_methods)
            try:
                return self._send(method, params)
            except _Moved as moved:
                moves += 1
                if moves > MAX_REDIRECTS:
                    raise ServerError(moved.status, "", "too many redirects", method) from None
                self._follow_move(moved, method)
                continue
            except RateLimited:
                self.gate.bucket.saturate()
                if attempt >= self.max_retries:
                    raise
                delay = codec.backoff(attempt, self.rnd, floor=1.0 / self.rate)
                reason = "QUERY_LIMIT_EXCEEDED"
            except OperationTimeLimit as err:
                self.gate.holds.block(method, err.reset_at)
                if attempt >= self.max_retries:
                    raise
                delay, reason = 0.0, "OPERATION_TIME_LIMIT"
            except Overloaded:
                log.error("portal %s blocked REST (OVERLOAD_LIMIT); contact Bitrix24 support",
                          urlsplit(self.endpoint).netloc)
                raise
            except AuthError as err:
                if (err.code.lower() != "expired_token" or self._refresher is None or self.member_id is None
                        or refreshes >= MAX_REFRESHES):
                    raise
                refreshes += 1
                self._refresh()
                continue
            except (ServerError, TransportError) as err:
                if not idempotent or attempt >= self.max_retries:
                    raise
                delay = codec.backoff(attempt, self.rnd)
                reason = err.code or type(err).__name__
            attempt += 1
            log.info("retrying %s after %s in %.2fs (retry %d of %d)", method, reason, delay, attempt,
                     self.max_retries)
            if delay > 0:
                self.sleep(delay)

    def _wait_for_holds(self, method: str, methods: list[str]) -> None:
        until = self.gate.holds.held_until(methods)
        if not until:
            return
        wait = until - self.clock()
        if wait > self.max_hold:
            raise OperationTimeLimit(429, "OPERATION_TIME_LIMIT",
                                     f"held until {until:.0f} to respect the operating-time limit",
                                     method, reset_at=until)
        log.info("waiting %.1fs for the operating-time hold on %s", wait, method)
        self.sleep(max(0.0, wait) + self.rnd())

    def _follow_move(self, moved: _Moved, method: str) -> None:
        """A redirect to another host is followed only when the OAuth server confirms that this portal
        (``member_id``) now answers there: the request's token never goes to an unconfirmed host, and the
        stored endpoint (which vouches for every frame's AUTH_ID) changes only on the OAuth server's word."""
        old_host, new_host = urlsplit(self.endpoint).netloc, urlsplit(moved.endpoint).netloc
        if self._refresher is None or self.member_id is None:
            raise ServerError(moved.status, "", f"redirected from {old_host} to {new_host}: not followed", method)
        inst = self._refresher.confirm_endpoint(self.member_id)
        if inst.client_endpoint.rstrip("/") != moved.endpoint.rstrip("/"):
            log.warning("portal %s redirected from %s to %s, which the OAuth server does not confirm: not followed",
                        self.member_id, old_host, new_host)
            raise ServerError(moved.status, "", f"redirected to {new_host}, not confirmed for this portal", method)
        log.info("portal %s moved from %s to %s (confirmed by the OAuth server)", self.member_id, old_host, new_host)
        self.endpoint, self._token = inst.client_endpoint, inst.access_token

    def _refresh(self) -> None:
        assert self._refresher is not None and self.member_id is not None
        inst = self._refresher.refresh(self.member_id, self._token or "")
        self._token = inst.access_token
        if inst.client_endpoint and codec.is_rest_endpoint(inst.client_endpoint):
            self.endpoint = inst.client_endpoint

    def _send(self, method: str, params: Mapping[str, Any] | None) -> Response:
        body = codec.json_body(params, self._token)
        with self.gate.turn():
            wait = self.gate.bucket.reserve()
            if wait > 0:
                self.sleep(wait)
            status, text = self._post(method, body)
        return codec.decode_response(status, text, method)

    def _post(self, method: str, body: bytes) -> tuple[int, str]:
        """POST; a redirect on the same host is followed by re-POSTing the body (never a GET), one to another
        host raises ``_Moved`` for the request loop to confirm before anything is sent there."""
        url = f"{self.endpoint}{method}.json"
        for _hop in range(MAX_REDIRECTS + 1):
            started = self.clock()
            self.http_calls += 1
            try:
                response = self.session.post(url, data=body, headers=codec.HEADERS, timeout=self.timeout,
                                             allow_redirects=False)
            except requests.Timeout:
                raise TransportError(0, "TIMEOUT", "no answer in time", method) from None
            except requests.RequestException as exc:
                raise TransportError(0, "CONNECTION_ERROR", type(exc).__name__, method) from None
            log.debug("POST %s -> HTTP %s in %.3fs", method, response.status_code, self.clock() - started)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response.status_code, response.content.decode("utf-8", errors="replace")  # Bitrix24 speaks UTF-8
            target = urljoin(url, location)
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise ServerError(response.status_code, "", "refused a redirect from https to http", method)
            if urlsplit(target).netloc.lower() != urlsplit(url).netloc.lower():
                endpoint = codec.endpoint_from_location(target, method)
                if not endpoint or not codec.is_rest_endpoint(endpoint):
                    raise ServerError(response.status_code, "", "redirected to another host, not to a REST endpoint",
                                      method)
                raise _Moved(response.status_code, endpoint)
            url = target
        raise ServerError(0, "", "too many redirects", method)


def _check_method(method: str) -> None:
    if not _METHOD_RE.match(method or ""):
        raise ValueError(f"not a REST method name: {method!r}")


def _check_installation(inst: Installation | None, own_token: bool = False) -> None:
    """Calls go only to the stored endpoint of a known, active installation (with a person's ``own_token``:
    also one whose stored tokens await re-authorisation)."""
    if not (own_token and inst is not None and inst.serves_frames):
        inst = require_active(inst)
    assert inst is not None
    if not codec.is_rest_endpoint(inst.client_endpoint or ""):
        raise AuthError(0, "NO_ENDPOINT", "the installation has no usable client_endpoint", "")
