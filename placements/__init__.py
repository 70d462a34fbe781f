"""Flask blueprints (see register)."""

from flask import Flask


def register(app: Flask) -> None:
    """Register this package's blueprints on the app."""
