"""Recompute, inbox worker, reconcile, period end and scheduler wiring."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Start the in-process scheduler when enabled (wired by the sync issue)."""
