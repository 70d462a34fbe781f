"""The UI inside Bitrix24's frames: the plans page, the plan form, the deal tab and the client tabs."""

from flask import Blueprint, Flask


def register(app: Flask) -> None:
    """Register this package's blueprints, template helpers and session cookie settings on the app."""
    from placements import changes, client_tab, deal_tab, grid, i18n, plan_edit, plans_page, settings_page

    i18n.init_app(app)
    # Frames live on the portal's site: the cookie must be SameSite=None; Secure. Browsers refuse
    # SameSite=None without Secure, so plain-http development/test uses Lax (same-site sandbox) and the
    # signed ``_s`` token carries the session whenever the cookie is dropped.
    secure = str(app.config.get("PUBLIC_URL") or "").startswith("https://") or app.config.get("ENV") == "production"
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["SESSION_COOKIE_SAMESITE"] = "None" if secure else "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):  # cookies ignore ports: never share a name
        app.config["SESSION_COOKIE_NAME"] = "b24plans_session"
    app.register_blueprint(Blueprint("placements_static", __name__, static_folder="static",
                                     static_url_path="/placements/static"))
    for module in (plans_page, plan_edit, deal_tab, client_tab, changes, settings_page, grid):
        app.register_blueprint(module.bp)
