"""``b24plans sandbox``: run the local Bitrix24 portal."""

from __future__ import annotations

import logging

import click


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5050, show_default=True, type=int)
@click.option("--state", "state", default="instance/sandbox.db", show_default=True,
              help="SQLite file holding the whole portal (kept across restarts).")
@click.option("--seed", type=click.Choice(["none", "demo"]), default="none", show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn the leaky bucket (50 burst, 2/s) off.")
@click.option("--token-lifetime", default=3600, show_default=True, type=int,
              help="Access-token lifetime in seconds.")
def sandbox_command(host: str, port: int, state: str, seed: str, no_rate_limit: bool,
                    token_lifetime: int) -> None:
    """Run the sandbox portal: REST, OAuth, events and the portal shell at http://HOST:PORT/."""
    from werkzeug.serving import make_server

    from b24app.sandbox.portal import Portal
    from b24app.sandbox.server import AccessLogHandler, create_sandbox_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    portal = Portal(state, seed, not no_rate_limit, token_lifetime, f"http://{host}:{port}")
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
