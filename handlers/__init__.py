"""Flask blueprints Bitrix24 calls: ``/install`` (install path) and ``/events`` (event handler)."""

from flask import Flask


def register(app: Flask) -> None:
    """Register this package's blueprints on the app."""
    from handlers import events, install

    app.register_blueprint(install.bp)
    app.register_blueprint(events.bp)
