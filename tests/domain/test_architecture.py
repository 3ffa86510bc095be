"""The domain stays free of Flask, marshmallow, SQL drivers and the outer layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import domain

FORBIDDEN = ("flask", "marshmallow", "psycopg", "sqlite3", "service", "projections", "icalendar")


def test_domain_modules_import_nothing_from_outer_layers_or_infrastructure() -> None:
    root = Path(domain.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_domain_module_loads_no_forbidden_package() -> None:
    # A fresh interpreter: in this one, other tests have already imported Flask.
    script = (
        "import importlib, pkgutil, sys, domain\n"
        "for info in pkgutil.walk_packages(domain.__path__, 'domain.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(domain.__file__).parent.parent,
    )
    assert out.stdout.strip() == "[]"
