"""The sandbox stays its own package: no import between it and the production packages (either way, except
the demo runner, which runs both), a distribution of its own, and its commands documented."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT / "b24sandbox"
PRODUCTION = ("b24app", "handlers", "sync", "placements")
ALLOWED_TO_IMPORT_THE_APP = {SANDBOX / "demo.py"}  # the developer's tool that runs the portal and the app


def modules(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file, also inside functions, and importlib.import_module("x")."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__", "find_spec") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {name}" for path in files for line, name in imported(path)
            if name.split(".")[0] in forbidden]


def test_the_import_walker_sees_every_kind_of_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import b24app.db\nfrom sync import worker\n\ndef f():\n    from handlers.events import x\n"
                      "    import importlib\n    importlib.import_module('placements.web')\nfrom . import y\n")
    assert [name for _, name in imported(sample)] == ["b24app.db", "sync", "handlers.events", "importlib",
                                                       "placements.web"]


def test_emulator_modules_import_no_production_package():
    emulator = [p for p in modules(SANDBOX) if p not in ALLOWED_TO_IMPORT_THE_APP]
    assert len(emulator) > 30
    assert offenders(emulator, PRODUCTION) == []


def test_no_production_module_imports_the_sandbox():
    production = [p for package in PRODUCTION for p in modules(ROOT / package)]
    assert len(production) > 30
    assert offenders(production, ("b24sandbox",)) == []


def test_the_production_distribution_leaves_the_sandbox_out():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    found = find_namespace_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    assert set(PRODUCTION) <= set(found)
    assert [p for p in found if p.split(".")[0] == "b24sandbox"] == []


def test_the_sandbox_distribution_lists_every_package_and_data_file():
    config = tomllib.loads((SANDBOX / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"b24sandbox": "."}
    code = {p.parent for p in SANDBOX.rglob("__init__.py")}
    data = [p for folder in ("templates", "static") for p in (SANDBOX / folder).rglob("*") if p.is_file()]
    assert data

    def package(folder: Path) -> str:
        return ".".join(("b24sandbox", *folder.relative_to(SANDBOX).parts))

    assert set(setuptools["packages"]) == {package(folder) for folder in code | {p.parent for p in data}}
    patterns = setuptools["package-data"]
    assert [str(p) for p in data if not any(p.match(glob) for glob in patterns.get(package(p.parent), ()))] == []
    assert config["project"]["scripts"] == {"b24sandbox": "b24sandbox.cli:main"}


def command_names(group, prefix: str) -> list[str]:
    import click

    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += command_names(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


@pytest.mark.parametrize("which", ["b24plans", "b24sandbox"])
def test_every_command_is_in_the_readme(which):
    from b24app.cli import cli
    from b24sandbox.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)`", readme, re.MULTILINE)
    names = command_names(cli if which == "b24plans" else main, which)
    assert names
    documented = {" ".join(row.split()[:2]) for row in rows}
    grouped = {f"{row.split()[0]} {row.split()[1]} {sub}" for row in rows if len(row.split()) > 2
               for sub in row.split()[2].replace("\\", "").split("|")}
    assert [n for n in names if n not in documented and n not in grouped] == []
