"""Recompute, inbox worker, reconcile, period end and scheduler wiring."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Start the process's one in-process scheduler when ``SCHEDULER`` is on (never under TESTING)."""
    if not app.config.get("SCHEDULER") or app.config.get("TESTING"):
        return
    from sync import scheduler

    app.extensions["b24_scheduler"] = scheduler.start(app.config)
