"""The REST method registry: ``@method("crm.item.get", scope="crm")`` registers a handler.

A handler is ``func(portal, ctx, params) -> result``; it returns the ``result`` value, or a ``Page`` for list
methods (``total``/``next`` beside ``result``), and raises ``RestError`` for documented errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 50


@dataclass
class Page:
    result: Any
    total: int | None = None
    next: int | None = None


@dataclass(frozen=True)
class MethodSpec:
    name: str
    func: Callable[..., Any]
    scope: str = "basic"          # "basic" is always granted
    app_only: bool = False        # webhooks get WRONG_AUTH_TYPE (403)
    alt_scopes: tuple[str, ...] = ()  # any of these also grants the method


REGISTRY: dict[str, MethodSpec] = {}

MODULES = ("app", "users", "batch", "placement", "events", "types", "userfields", "statuses",
           "crm_items", "crm_legacy", "currency", "im")


def method(name: str, scope: str = "basic", app_only: bool = False,
           alt_scopes: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name.lower()] = MethodSpec(name, func, scope, app_only, alt_scopes)
        return func
    return register


def load_all() -> dict[str, MethodSpec]:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return REGISTRY


def paging(params: dict[str, Any], rows: list[Any]) -> tuple[list[Any], int | None, int | None, bool]:
    """Slice one page of 50: returns (page, total, next, counted). ``start=-1`` skips counting."""
    start = params.get("start", params.get("START", 0))
    try:
        start_n = int(str(start or 0))
    except ValueError:
        start_n = 0
    if start_n == -1:
        return rows[:PAGE_SIZE], 0, None, False
    start_n = max(start_n, 0)
    page = rows[start_n:start_n + PAGE_SIZE]
    nxt = start_n + PAGE_SIZE if start_n + PAGE_SIZE < len(rows) else None
    return page, len(rows), nxt, True


def param(params: dict[str, Any], *names: str, default: Any = None) -> Any:
    """A parameter by any of its spellings (Bitrix24 accepts several cases for many of them)."""
    for name in names:
        if name in params:
            return params[name]
    lowered = {k.lower(): v for k, v in params.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default
