"""The sandbox shell's labels in the portal's languages (Bitrix24 ids: ``la`` = Spanish, ``en``, ``ru``).

See api-reference/crm/data-types.md#lang-ids for the language ids.
"""

from __future__ import annotations

LANGS: dict[str, str] = {"la": "Español", "en": "English", "ru": "Русский"}
DEFAULT_LANG = "la"

_LABELS: dict[str, tuple[str, str, str]] = {
    # key: (la, en, ru)
    "crm": ("CRM", "CRM", "CRM"),
    "notifications": ("Notificaciones", "Notifications", "Уведомления"),
    "no_notifications": ("No hay notificaciones", "No notifications", "Нет уведомлений"),
    "deals": ("Negociaciones", "Deals", "Сделки"),
    "deal": ("Negociación", "Deal", "Сделка"),
    "companies": ("Compañías", "Companies", "Компании"),
    "company": ("Compañía", "Company", "Компания"),
    "contacts": ("Contactos", "Contacts", "Контакты"),
    "contact": ("Contacto", "Contact", "Контакт"),
    "smart_processes": ("Procesos inteligentes", "Smart processes", "Смарт-процессы"),
    "applications": ("Aplicaciones", "Applications", "Приложения"),
    "user": ("Usuario", "User", "Пользователь"),
    "language": ("Idioma", "Language", "Язык"),
    "admin": ("administrador", "administrator", "администратор"),
    "title": ("Nombre", "Title", "Название"),
    "stage": ("Etapa", "Stage", "Стадия"),
    "amount": ("Importe", "Amount", "Сумма"),
    "currency": ("Moneda", "Currency", "Валюта"),
    "pipeline": ("Embudo", "Pipeline", "Воронка"),
    "all_pipelines": ("Todos los embudos", "All pipelines", "Все воронки"),
    "responsible": ("Responsable", "Responsible", "Ответственный"),
    "phones": ("Teléfonos", "Phones", "Телефоны"),
    "emails": ("Correos electrónicos", "E-mails", "E-mail"),
    "name": ("Nombre", "Name", "Имя"),
    "last_name": ("Apellido", "Last name", "Фамилия"),
    "post": ("Cargo", "Position", "Должность"),
    "industry": ("Sector", "Industry", "Сфера деятельности"),
    "general": ("General", "General", "Общее"),
    "save": ("Guardar", "Save", "Сохранить"),
    "saved": ("Guardado", "Saved", "Сохранено"),
    "open": ("Abrir", "Open", "Открыть"),
    "close": ("Cerrar", "Close", "Закрыть"),
    "next_page": ("Siguiente", "Next", "Далее"),
    "prev_page": ("Anterior", "Previous", "Назад"),
    "total": ("Total", "Total", "Всего"),
    "nothing": ("No hay elementos", "No items", "Нет элементов"),
    "not_found": ("El elemento no se encontró", "The item was not found", "Элемент не найден"),
    "not_installed": ("La aplicación aún no está completamente instalada. Contacte a su administrador.",
                      "The application is not fully installed yet. Please contact your administrator.",
                      "Приложение еще не установлено до конца. Обратитесь к администратору."),
    "no_apps": ("No hay aplicaciones locales", "No local applications", "Нет локальных приложений"),
    "probability": ("Probabilidad", "Probability", "Вероятность"),
    "fields": ("Campos", "Fields", "Поля"),
    "error": ("Error", "Error", "Ошибка"),
    "sandbox": ("Portal de pruebas", "Sandbox portal", "Тестовый портал"),
    "begin": ("Inicio", "Start", "Начало"),
    "close_date": ("Cierre", "End", "Завершение"),
    "client": ("Cliente", "Client", "Клиент"),
}

_INDEX = {"la": 0, "en": 1, "ru": 2}


def normalize_lang(lang: str | None) -> str:
    """A supported language id; ``es`` (not a Bitrix24 id) maps to ``la``."""
    lang = (lang or "").lower()
    if lang == "es":
        return "la"
    return lang if lang in LANGS else DEFAULT_LANG


def label(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang``; the key itself when unknown (visible, not hidden)."""
    texts = _LABELS.get(key)
    if texts is None:
        return key
    return texts[_INDEX.get(lang, 0)]


def localized_title(title: str, lang_all: dict | None, lang: str) -> str:
    """A placement's caption for the user's language: ``LANG_ALL[lang][TITLE]``, else ``TITLE``.

    See api-reference/widgets/placement-bind.md (LANG_ALL).
    """
    if isinstance(lang_all, dict):
        entry = lang_all.get(lang) or (lang_all.get("es") if lang == "la" else None)
        if isinstance(entry, dict) and entry.get("TITLE"):
            return str(entry["TITLE"])
    return title
