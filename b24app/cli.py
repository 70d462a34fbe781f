"""The ``b24plans`` command."""

from __future__ import annotations

import click

from b24app.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="b24plans")
def cli() -> None:
    """Planes de ventas: Bitrix24 sales plans per client and period."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the app's web server (install, events, plans page, tabs)."""
    from b24app import create_app
    from b24app.devserver import app_server

    server = app_server(host, port, create_app())
    server.log_startup()
    server.serve_forever()  # until Ctrl-C


@cli.command()
@click.option("--member-id", default=None, help="only this portal (default: every active installation)")
def provision(member_id: str | None) -> None:
    """Re-run provisioning (smart process, fields, stages, tabs, events) with the stored admin tokens."""
    from b24app.provisioning.provision import provision_all
    from b24app.provisioning.report import CREATED, FAILED, UPDATED, ProvisionError
    from sync.commands import load_config

    try:
        reports = provision_all(load_config(), member_id)
    except ProvisionError as exc:
        raise click.ClickException(str(exc)) from None
    if not reports:
        click.echo("no active installation")
    for member, report in reports.items():
        click.echo(f"{member}: {'ok' if report.ok else 'FAILED'} (created {report.count(CREATED)}, "
                   f"updated {report.count(UPDATED)}, failed {report.count(FAILED)})")
        for step in report.steps:
            if step.outcome != "found":
                click.echo(f"  {step.outcome:8} {step.kind} {step.name} {step.detail}".rstrip())
        if report.error:
            click.echo(f"  error: {report.error}")
    if any(not r.ok for r in reports.values()):
        raise SystemExit(1)


def _add_sync_commands() -> None:
    from sync.commands import (
        backup,
        close_periods,
        doctor,
        import_plans,
        jobs,
        limits,
        migrate_store,
        prune,
        reconcile,
        worker,
    )

    for command in (worker, jobs, reconcile, close_periods, doctor, backup, prune, import_plans, limits,
                    migrate_store):
        cli.add_command(command)


_add_sync_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
