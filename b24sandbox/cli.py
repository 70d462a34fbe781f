"""The ``b24sandbox`` command: run the local Bitrix24 portal, manage local apps in it, run the demo."""

from __future__ import annotations

import logging
from typing import Any

import click
import requests

from b24sandbox.installer import InstallError, install_app

PRODUCTION = ("b24app", "handlers", "sync", "placements")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The sandbox portal: a local Bitrix24 emulator for the demo, the tests and the benchmarks."""


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5050, show_default=True, type=int)
@click.option("--state", "state", default="instance/sandbox.db", show_default=True,
              help="SQLite file holding the whole portal (kept across restarts).")
@click.option("--seed", type=click.Choice(["none", "demo"]), default="none", show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn the leaky bucket (50 burst, 2/s) off.")
@click.option("--token-lifetime", default=3600, show_default=True, type=int,
              help="Access-token lifetime in seconds.")
@click.option("--profile", type=click.Choice(["cloud", "selfhosted"]), default="cloud", show_default=True,
              help="selfhosted: no cloud rate limit and no operating-time limit, like a portal on its own server.")
@click.option("--missing-method", "missing_methods", multiple=True, metavar="METHOD",
              help="A method an older CRM module lacks (repeatable): it answers ERROR_METHOD_NOT_FOUND.")
def serve(host: str, port: int, state: str, seed: str, no_rate_limit: bool, token_lifetime: int, profile: str,
          missing_methods: tuple[str, ...]) -> None:
    """Run the sandbox portal: REST, OAuth, events and the portal shell at http://HOST:PORT/."""
    from werkzeug.serving import make_server

    from b24sandbox.portal import Portal
    from b24sandbox.server import AccessLogHandler, create_sandbox_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    portal = Portal(state, seed, not no_rate_limit, token_lifetime, f"http://{host}:{port}", profile=profile,
                    missing_methods=missing_methods)
    app = create_sandbox_app(portal=portal)
    server = make_server(host, port, app, threaded=True, request_handler=AccessLogHandler)
    click.echo(f"Sandbox portal on http://{host}:{port}/  (member_id {portal.member_id})")
    click.echo(f"  webhook: http://{host}:{port}/rest/1/sandbox/   oauth: http://{host}:{port}/oauth/token/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        portal.close()


@main.command("demo")
def demo() -> None:
    """Run the sandbox portal (:5050) and the app (:5000), installed, with demo plans; Ctrl-C stops both."""
    try:
        from b24sandbox import demo as runner
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in PRODUCTION:
            raise
        raise click.ClickException(f"the demo runs the app too: install b24plans beside b24sandbox "
                                   f"(missing module {exc.name})") from None
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    runner.run()


# local apps in a running sandbox ---------------------------------------------------------------------

def _sandbox_api(sandbox: str, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = requests.request(method, f"{sandbox.rstrip('/')}{path}", timeout=60, **kwargs)
    except requests.RequestException as exc:
        raise click.ClickException(f"the sandbox at {sandbox} is not reachable: {exc}") from exc
    if not response.ok:
        raise click.ClickException(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
    return response.json() if response.content else {}


SANDBOX_OPT = click.option("--sandbox", default="http://127.0.0.1:5050", show_default=True,
                           help="the running sandbox portal's base URL")


@main.group("app")
def app_cli() -> None:
    """Local apps in a running sandbox portal: register, install (headless), uninstall."""


@app_cli.command("register")
@SANDBOX_OPT
@click.option("--handler", "handler_url", required=True, help="the app's handler URL (its main page)")
@click.option("--install", "install_url", default="", help="path for initial installation (URL)")
@click.option("--scopes", default="crm,placement,userfieldconfig,user_brief,im", show_default=True)
@click.option("--title", default="Planes de ventas", show_default=True, help="menu item name")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="write B24_CLIENT_ID and B24_CLIENT_SECRET to this file (the secret is never printed)")
def register_cmd(sandbox: str, handler_url: str, install_url: str, scopes: str, title: str,
                 env_file: str | None) -> None:
    """Register a local app; prints its client_id."""
    app = _sandbox_api(sandbox, "POST", "/sandbox/apps", json={
        "handler_url": handler_url, "install_url": install_url or handler_url,
        "scopes": [s for s in scopes.split(",") if s], "title": title})
    if env_file:
        with open(env_file, "a", encoding="utf-8") as fh:
            fh.write(f"B24_CLIENT_ID={app['client_id']}\nB24_CLIENT_SECRET={app['client_secret']}\n")
    click.echo(app["client_id"])


@app_cli.command("install")
@SANDBOX_OPT
@click.argument("client_id")
@click.option("--user-id", default=1, show_default=True, type=int, help="the admin who opens the app")
@click.option("--lang", default="la", show_default=True)
def install_cmd(sandbox: str, client_id: str, user_id: int, lang: str) -> None:
    """Open the app for the first time: POST the install page, check it calls installFinish, finish."""
    try:
        result = install_app(sandbox, client_id, user_id=user_id, lang=lang)
    except (InstallError, requests.RequestException) as exc:
        raise click.ClickException(str(exc)) from exc
    state = "already installed" if result.already_installed else f"installed={result.installed}"
    click.echo(f"{client_id}: {state} (install page {result.install_url} answered {result.status})")


@app_cli.command("uninstall")
@SANDBOX_OPT
@click.argument("client_id")
@click.option("--keep-data", is_flag=True, help="CLEAN=0 in ONAPPUNINSTALL")
def uninstall_cmd(sandbox: str, client_id: str, keep_data: bool) -> None:
    """Delete the app from the portal (ONAPPUNINSTALL, bindings dropped)."""
    _sandbox_api(sandbox, "POST", f"/sandbox/apps/{client_id}/uninstall", json={"clean": not keep_data})
    click.echo(f"{client_id}: uninstalled")


if __name__ == "__main__":
    main()
