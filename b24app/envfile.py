"""The demo's settings file ``instance/demo.env``, which the ``b24plans`` commands read when it exists.

``b24sandbox demo`` writes it (``B24_*`` lines: the client id and secret of the app registered in the sandbox,
the sandbox's OAuth URL, the database, the secret key); ``b24plans reconcile`` / ``worker`` / ``close-periods``
(and any command that calls :func:`cli_settings`) read it under the environment, so a variable you set wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from b24app.settings import load_settings

PROJECT = Path(__file__).resolve().parent.parent
INSTANCE = PROJECT / "instance"
DEMO_ENV = INSTANCE / "demo.env"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments and blank lines ignored); an absent file is empty."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` as ``KEY=VALUE`` lines, readable by the owner only (it holds a client secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by `b24sandbox demo`: the demo's settings; the b24plans commands read them when present."]
    lines += [f"{key}={value}" for key, value in values.items()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)  # it holds the demo app's client secret
    tmp.replace(path)


def cli_settings(environ: Mapping[str, str] | None = None, env_file: Path = DEMO_ENV) -> dict[str, Any]:
    """The settings a command should use: ``instance/demo.env`` (when present) under the environment."""
    merged = {**read_env_file(env_file), **(os.environ if environ is None else environ)}
    return load_settings(merged)
