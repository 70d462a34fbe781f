"""Planes de ventas: a Bitrix24 local application for per-client sales plans."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from b24app import db, i18n, logsafe, storage
from b24app.manifest import load_manifest
from b24app.settings import check_required, load_settings
from b24app.version import __version__

__all__ = ["__version__", "create_app"]
log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app factory: settings from ``B24_*`` variables (or ``test_config``), manifest, db, blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    config = load_settings()
    if test_config:
        config.update(test_config)
    check_required(config)
    app.config.update(config)
    app.config["SECRET_KEY"] = config.get("SECRET_KEY") or "dev-only-not-secret"
    if storage.engine_of(app.config["DATABASE"]) == storage.SQLITE:  # a path; a postgresql:// URL stays as is
        database = Path(app.config["DATABASE"])
        if not database.is_absolute():
            database = Path(app.root_path).parent / database
        app.config["DATABASE"] = str(database)

    logsafe.install(app.config.get("LOG_LEVEL", "INFO"), app.config.get("LOG_FORMAT", "text"))
    logsafe.register_secret(app.config.get("CLIENT_SECRET"), app.config.get("SECRET_KEY"),
                            storage.password_of(app.config["DATABASE"]))
    app.extensions["b24_manifest"] = load_manifest(app.config.get("MANIFEST"))

    db.init_app(app)
    i18n.init_app(app)  # one LANG map and one set of catalogs for every page

    import handlers
    import placements
    import sync

    handlers.register(app)
    placements.register(app)
    sync.init_app(app)
    return app
