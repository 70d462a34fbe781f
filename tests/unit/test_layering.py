"""Rules of the layout that no single feature test would notice breaking.

- A view module (one that defines a blueprint ``bp``) imports no other view module: what two views share
  lives in plumbing (placements/web.py, placements/live.py...), not in one of them.
- handlers/ and placements/ are siblings: neither imports the other; what both need is in b24app/.
- Bitrix24's LANG -> locale map exists once, in b24app/i18n.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("b24app", "handlers", "sync", "placements")
LANG_MAP_HOME = "b24app.i18n"


def production_sources() -> dict[str, str]:
    """``{module name: source}`` of every production module (the sandbox emulator is not production code)."""
    sources = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("b24app", "sandbox"):
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            sources[name] = path.read_text(encoding="utf-8")
    return sources


def imported_modules(source: str) -> set[str]:
    """What ``source`` imports, at the top or inside functions (``from a import b``: both ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_view_module(source: str) -> bool:
    """A module that defines a blueprint at module level (``bp = ...``)."""
    return any(isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "bp" for t in node.targets)
               for node in ast.parse(source).body)


def view_to_view_imports(sources: dict[str, str]) -> list[tuple[str, str]]:
    views = {name for name, source in sources.items() if is_view_module(source)}
    return sorted((name, other) for name in views
                  for other in imported_modules(sources[name]) & views if other != name)


def sibling_imports(sources: dict[str, str]) -> list[tuple[str, str]]:
    sibling = {"handlers": "placements", "placements": "handlers"}
    return sorted({(name, sibling[name.split(".")[0]]) for name, source in sources.items()
                   if name.split(".")[0] in sibling
                   for other in imported_modules(source) if other.split(".")[0] == sibling[name.split(".")[0]]})


def lang_maps(sources: dict[str, str]) -> list[str]:
    """Modules holding a dict that maps Bitrix24's ``la`` to ``es`` (a LANG -> locale map)."""
    def maps_la(node: ast.AST) -> bool:
        if isinstance(node, ast.Dict):
            return any(isinstance(k, ast.Constant) and k.value == "la" and isinstance(v, ast.Constant)
                       and v.value == "es" for k, v in zip(node.keys, node.values, strict=True))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            return any(k.arg == "la" and isinstance(k.value, ast.Constant) and k.value.value == "es"
                       for k in node.keywords)
        return False

    return sorted(name for name, source in sources.items() if any(maps_la(n) for n in ast.walk(ast.parse(source))))


def test_no_view_module_imports_another():
    sources = production_sources()
    views = sorted(name for name, source in sources.items() if is_view_module(source))
    assert {"placements.plans_page", "placements.deal_tab", "handlers.install"} <= set(views)  # the rule sees them
    assert view_to_view_imports(sources) == [], "move what the views share into plumbing (placements/web.py)"


def test_handlers_and_placements_do_not_import_each_other():
    assert sibling_imports(production_sources()) == [], "what both need belongs in b24app/"


def test_the_lang_map_exists_once():
    assert lang_maps(production_sources()) == [LANG_MAP_HOME], "use b24app.i18n.locale_for"


def test_the_checks_catch_what_they_are_for():
    bad = {
        "placements.plans_page": "bp = web.blueprint('plans')\ndef not_ready(): ...",
        "placements.deal_tab": "from placements.plans_page import not_ready\nbp = web.blueprint('deal_tab')",
        "placements.client_tab": "bp = web.blueprint('client_tab')\ndef show():\n    from placements import plans_page",
        "placements.web": "from placements import live",
        "handlers.install": "from placements.i18n import locale_for\nbp = Blueprint('install', __name__)\n"
                            "_LANGS = {'la': 'es', 'en': 'en'}",
        "b24app.i18n": "_B24_LANG = dict(la='es', en='en')",
    }
    assert view_to_view_imports(bad) == [("placements.client_tab", "placements.plans_page"),
                                         ("placements.deal_tab", "placements.plans_page")]
    assert sibling_imports(bad) == [("handlers.install", "placements")]
    assert lang_maps(bad) == ["b24app.i18n", "handlers.install"]
