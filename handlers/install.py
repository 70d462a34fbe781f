"""``/install``: the local app's "Path for initial installation".

Bitrix24 POSTs here the first time an admin opens the app, and again on "Reinstall"
(settings/app-installation/installation-finish.md). The view parses the POST, runs
``b24app.provisioning.installer.install`` and renders what happened in the admin's language; only a complete install
calls ``BX24.installFinish()``. A GET shows a short explanation (someone opened the URL by hand).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from b24app.db import get_db
from b24app.provisioning.installer import InstallForm, InstallOutcome, InstallRefused, install
from b24app.provisioning.report import CREATED, FAILED, FOUND, REMOVED, UPDATED

log = logging.getLogger(__name__)
bp = Blueprint("install", __name__, template_folder="templates")

_LANGS = {"la": "es", "es": "es", "en": "en", "ru": "ru", "ua": "ru", "by": "ru", "kz": "ru"}

MESSAGES: dict[str, dict[str, str]] = {
    "es": {
        "title": "Planes de ventas: instalación",
        "done": "La aplicación está instalada. Se abrirá en unos segundos.",
        "first": "Instalación nueva.", "again": "Reinstalación: se reutilizó lo que ya existía.",
        CREATED: "creado", FOUND: "ya existía", UPDATED: "actualizado", FAILED: "error",
        REMOVED: "eliminada (no la usa la aplicación)",
        "smart_process": "Proceso inteligente", "field": "Campo", "stage": "Etapa", "placement": "Pestaña",
        "event": "Evento", "option": "Ajustes de la aplicación",
        "failed": "La instalación no se completó. Corrija el problema y vuelva a abrir la aplicación.",
        "missing": "Este portal no tiene los métodos REST o eventos que la aplicación necesita:",
        "missing_hint": "Suele pasar en un Bitrix24 autoalojado (on-premise) con módulos antiguos o sin "
                        "instalar. Actualice los módulos «crm» y «rest» (y los permisos de la aplicación: "
                        "crm, placement, userfieldconfig, user_brief) y vuelva a abrir la aplicación.",
        "not_admin": "Solo un administrador del portal puede instalar la aplicación.",
        "malformed": "La solicitud de instalación está incompleta",
        "oauth_failed": "El servidor OAuth no confirmó la instalación (revise client_id y client_secret)",
        "oauth_unreachable": "No se pudo contactar con el servidor OAuth",
        "member_mismatch": "Los datos de instalación no corresponden al portal",
        "portal_error": "El portal respondió con un error",
        "get_intro": "Esta es la ruta de instalación de la aplicación local. Bitrix24 la abre al instalar; "
                     "no hace falta abrirla a mano. Rutas para registrar la aplicación local:",
        "handler_path": "Ruta del controlador", "install_path": "Ruta de instalación inicial",
        "events_path": "Controlador de eventos",
    },
    "en": {
        "title": "Sales plans: installation",
        "done": "The application is installed. It opens in a few seconds.",
        "first": "New installation.", "again": "Reinstallation: what already existed was reused.",
        CREATED: "created", FOUND: "already there", UPDATED: "updated", FAILED: "failed",
        REMOVED: "removed (the app does not use it)",
        "smart_process": "Smart process", "field": "Field", "stage": "Stage", "placement": "Tab",
        "event": "Event", "option": "Application settings",
        "failed": "The installation is not complete. Fix the problem and open the application again.",
        "missing": "This portal lacks REST methods or events the application needs:",
        "missing_hint": "This usually means a self-hosted (on-premise) Bitrix24 with old or missing modules. "
                        "Update the \"crm\" and \"rest\" modules (and the application's scopes: crm, placement, "
                        "userfieldconfig, user_brief), then open the application again.",
        "not_admin": "Only a portal administrator can install the application.",
        "malformed": "The installation request is incomplete",
        "oauth_failed": "The OAuth server did not confirm the installation (check client_id and client_secret)",
        "oauth_unreachable": "The OAuth server could not be reached",
        "member_mismatch": "The installation data does not belong to this portal",
        "portal_error": "The portal answered with an error",
        "get_intro": "This is the local application's installation path. Bitrix24 opens it while installing; "
                     "there is no need to open it by hand. Paths to register the local application:",
        "handler_path": "Handler path", "install_path": "Path for initial installation",
        "events_path": "Event handler",
    },
    "ru": {
        "title": "Планы продаж: установка",
        "done": "Приложение установлено. Оно откроется через несколько секунд.",
        "first": "Новая установка.", "again": "Переустановка: существующие объекты использованы повторно.",
        CREATED: "создано", FOUND: "уже было", UPDATED: "обновлено", FAILED: "ошибка",
        REMOVED: "удалена (приложение её не использует)",
        "smart_process": "Смарт-процесс", "field": "Поле", "stage": "Стадия", "placement": "Вкладка",
        "event": "Событие", "option": "Настройки приложения",
        "failed": "Установка не завершена. Устраните проблему и откройте приложение снова.",
        "missing": "На портале нет REST-методов или событий, нужных приложению:",
        "missing_hint": "Обычно это коробочный (on-premise) Bitrix24 со старыми или не установленными модулями. "
                        "Обновите модули «crm» и «rest» (и права приложения: crm, placement, userfieldconfig, "
                        "user_brief) и откройте приложение снова.",
        "not_admin": "Установить приложение может только администратор портала.",
        "malformed": "Запрос установки неполный",
        "oauth_failed": "OAuth-сервер не подтвердил установку (проверьте client_id и client_secret)",
        "oauth_unreachable": "Не удалось связаться с OAuth-сервером",
        "member_mismatch": "Данные установки не относятся к этому порталу",
        "portal_error": "Портал ответил ошибкой",
        "get_intro": "Это путь первоначальной установки локального приложения. Bitrix24 открывает его при "
                     "установке; открывать вручную не нужно. Пути для регистрации локального приложения:",
        "handler_path": "Путь вашего обработчика", "install_path": "Путь для первоначальной установки",
        "events_path": "Обработчик событий",
    },
}


def ui_lang(b24_lang: str | None) -> str:
    """Bitrix24 ``LANG`` (``la`` = Spanish) -> es / en / ru; Spanish first."""
    if not b24_lang:
        return "es"
    return _LANGS.get(b24_lang.strip().lower()[:2], "en")


def _paths() -> dict[str, str]:
    manifest = current_app.extensions["b24_manifest"]
    base = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return {name: base + manifest.handlers[name] for name in ("index", "install", "events")}


def _render(lang: str, **context: Any) -> str:
    return render_template("handlers/install.html", t=MESSAGES[lang], lang=lang, paths=_paths(),
                           bx24_js_url=current_app.config.get("BX24_JS_URL") or "", **context)


def _headers(outcome: InstallOutcome | None) -> dict[str, str]:
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}
    if outcome is not None:
        parts = urlsplit(outcome.installation.client_endpoint)
        headers["Content-Security-Policy"] = f"frame-ancestors 'self' {parts.scheme}://{parts.netloc}"
    return headers


@bp.get("/install")
def explain() -> ResponseReturnValue:
    lang = ui_lang(request.args.get("LANG"))
    return _render(lang, mode="info"), 200, _headers(None)


@bp.post("/install")
def run() -> ResponseReturnValue:
    """Verify the POST through OAuth, check the portal, provision, report (ARCHITECTURE.md F1)."""
    lang = ui_lang(request.values.get("LANG"))
    try:
        form = InstallForm.parse(request.values)
        outcome = install(current_app.config, get_db(), form, current_app.extensions["b24_manifest"])
    except InstallRefused as exc:
        log.warning("install refused: %s", exc.reason)
        return _render(lang, mode="refused", reason=exc.reason, detail=exc.detail), exc.status, _headers(None)
    status = 200 if outcome.ok else (409 if outcome.missing else 500)
    return _render(lang, mode="result", outcome=outcome), status, _headers(outcome)
