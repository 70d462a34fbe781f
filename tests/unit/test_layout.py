"""The house rules of ARCHITECTURE.md, checked from the code: no import cycle among production modules, each
package imports only the packages it may (handlers and placements never each other), no view module imports
another view module (what views share lives in plumbing), and Bitrix24's LANG -> locale map exists once, in
b24app/i18n.py. That no production module imports the emulator: tests/sandbox/test_package.py.

Every import counts, also those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("b24app", "handlers", "sync", "placements")
EMULATOR = ("b24sandbox",)

#: layer -> the layers it may import (besides itself). The wiring modules may import any layer.
MAY_IMPORT = {
    "core": set(),  # settings, manifest, logsafe, planmath, schema, phpquery, i18n: pure or nearly
    "store": {"core"},  # db, installations, planstore
    "rest": {"core", "store"},
    "provisioning": {"core", "store", "rest"},
    "sync": {"core", "store", "rest", "provisioning"},
    "handlers": {"core", "store", "rest", "provisioning", "sync"},
    "placements": {"core", "store", "rest", "provisioning", "sync"},
}
WIRING = {"b24app", "b24app.cli", "b24app.devserver", "b24app.envfile", "sync.commands"}
STORE = {"b24app.db", "b24app.installations", "b24app.planstore", "b24app.jobruns", "b24app.alertstore",
         "b24app.linkstore"}


def layer(module: str) -> str:
    if module in WIRING:
        return "wiring"
    for prefix in ("b24app.rest", "b24app.provisioning"):
        if module == prefix or module.startswith(prefix + "."):
            return prefix.split(".")[1]
    if module in STORE:
        return "store"
    top = module.split(".")[0]
    return "core" if top == "b24app" else top


def production_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if not any(name == e or name.startswith(e + ".") for e in EMULATOR):
                found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the app ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                found.add(target)
            elif any(target == e or target.startswith(e + ".") for e in EMULATOR):
                found.add(target)
    return found


def sources() -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in production_modules().items()}


def is_view_module(source: str) -> bool:
    """A module that defines a blueprint at module level (``bp = ...``)."""
    return any(isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "bp" for t in node.targets)
               for node in ast.parse(source).body)


def view_to_view_imports(edges: dict[str, set[str]], code: dict[str, str]) -> list[tuple[str, str]]:
    views = {name for name, source in code.items() if is_view_module(source)}
    return sorted((name, other) for name in views for other in edges.get(name, set()) & views if other != name)


def lang_maps(code: dict[str, str]) -> list[str]:
    """Modules holding a dict that maps Bitrix24's ``la`` to ``es`` (a LANG -> locale map)."""
    def maps_la(node: ast.AST) -> bool:
        if isinstance(node, ast.Dict):
            return any(isinstance(k, ast.Constant) and k.value == "la" and isinstance(v, ast.Constant)
                       and v.value == "es" for k, v in zip(node.keys, node.values, strict=True))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            return any(k.arg == "la" and isinstance(k.value, ast.Constant) and k.value.value == "es"
                       for k in node.keywords)
        return False

    return sorted(name for name, source in code.items() if any(maps_la(n) for n in ast.walk(ast.parse(source))))


def graph() -> dict[str, set[str]]:
    modules = production_modules()
    known = set(modules) | set(EMULATOR)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_checks_catch_what_they_are_for(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from pkg import other\n", encoding="utf-8")
    assert imports_of("pkg.m", source, {"pkg", "pkg.m", "pkg.other"}) == {"pkg.other"}
    assert layer("handlers.install") == "handlers" and "placements" not in MAY_IMPORT["handlers"]
    bad = {"placements.plans_page": "bp = web.blueprint('plans')\ndef not_ready(): ...",
           "placements.deal_tab": "from placements.plans_page import not_ready\nbp = web.blueprint('deal_tab')",
           "handlers.install": "bp = Blueprint('install', __name__)\n_LANGS = {'la': 'es', 'en': 'en'}",
           "b24app.i18n": "_B24_LANG = dict(la='es', en='en')"}
    edges = {"placements.deal_tab": {"placements.plans_page"}}
    assert view_to_view_imports(edges, bad) == [("placements.deal_tab", "placements.plans_page")]
    assert lang_maps(bad) == ["b24app.i18n", "handlers.install"]


def test_no_import_cycle_among_production_modules():
    assert cycles(graph()) == []


def test_each_package_imports_only_what_it_may():
    wrong = []
    for module, targets in graph().items():
        source = layer(module)
        if source == "wiring":
            continue
        for target in targets:
            goal = layer(target)
            if goal != source and goal not in MAY_IMPORT.get(source, set()):
                wrong.append(f"{module} ({source}) imports {target} ({goal})")
    assert wrong == []


def test_no_view_module_imports_another():
    code = sources()
    assert {"placements.plans_page", "placements.deal_tab", "handlers.install"} <= {
        name for name, source in code.items() if is_view_module(source)}  # the rule sees them
    assert view_to_view_imports(graph(), code) == [], "move what the views share into plumbing (placements/web.py)"


def test_the_lang_map_exists_once():
    assert lang_maps(sources()) == ["b24app.i18n"], "use b24app.i18n.locale_for"
