"""The one way to reach a portal: what sync and the frames use of a REST client, and the two factories.

- ``RestClient`` is the part of ``B24Client`` the rest of the app relies on (call, batch, list reads; a
  context manager that closes it). Unit tests hand in any object with these methods.
- ``Clients`` makes the two kinds of client the app needs: ``admin(inst)`` with the installation's stored
  admin tokens (refreshed on ``expired_token``; the worker, reconcile, provisioning, a recompute after a
  save) and ``user(inst, access_token)`` with a person's own token (frames, the install page), so Bitrix24
  applies that person's CRM permissions.
- ``clients_for(config)`` is where a caller gets them: ``config["CLIENTS"]`` when a test put a fake there
  (``create_app({"CLIENTS": ...})``, the worker's config), ``B24Clients(config)`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from b24app.installations import Installation
from b24app.rest.client import B24Client
from b24app.rest.codec import BatchResult, Command, Response


class RestClient(Protocol):
    """The calls sync and placements make on a portal."""

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def call_raw(self, method: str, params: Mapping[str, Any] | None = None) -> Response: ...

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult: ...

    def batch_all(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult: ...

    def list_all(self, method: str, params: Mapping[str, Any] | None = None, items_key: str | None = "auto",
                 id_field: str | None = None, estimate: int | None = None) -> list[dict[str, Any]]: ...

    def get_many(self, entity_type_id: int, ids: Iterable[int],
                 select: Sequence[str] | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...

    def __enter__(self) -> RestClient: ...

    def __exit__(self, *exc: object) -> None: ...


class Clients(Protocol):
    """Makes clients for an installation."""

    def admin(self, inst: Installation) -> RestClient: ...

    def user(self, inst: Installation, access_token: str) -> RestClient: ...


@dataclass(frozen=True)
class B24Clients:
    """The real factories: ``B24Client`` over HTTP with the app's settings."""

    config: Mapping[str, Any]

    def admin(self, inst: Installation) -> RestClient:
        return B24Client.for_installation(inst.member_id, self.config)

    def user(self, inst: Installation, access_token: str) -> RestClient:
        return B24Client.for_user_token(inst, access_token, self.config)


def clients_for(config: Mapping[str, Any]) -> Clients:
    """The factories for ``config``: a test's ``CLIENTS`` entry, or the real ones."""
    given = config.get("CLIENTS")
    return given if given is not None else B24Clients(config)


@dataclass(frozen=True)
class ClientsFrom:
    """Factories from one function ``make(inst) -> client`` for both kinds: for tests and scripts that already
    hold a client (an in-memory portal, a webhook client) and pass it in as ``config["CLIENTS"]``."""

    make: Callable[[Installation], RestClient]

    def admin(self, inst: Installation) -> RestClient:
        return self.make(inst)

    def user(self, inst: Installation, access_token: str) -> RestClient:
        return self.make(inst)
