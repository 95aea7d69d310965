"""The layering rules of ../CONVENTIONS: the core never imports Qt, only db/ imports
SQLAlchemy, and importing the core loads no heavy dependency."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_and_db_never_import_qt_or_ui():
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("annotator", "db")
        for p in (ROOT / pkg).rglob("*.py")
        if imported_modules(p) & {"PySide6", "ui", "superqt"}
    ]
    assert offenders == []


def test_only_db_imports_sqlalchemy():
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("annotator", "ui")
        for p in (ROOT / pkg).rglob("*.py")
        if imported_modules(p) & {"sqlalchemy", "alembic"}
    ]
    assert offenders == []


def test_importing_the_core_is_light():
    code = (
        "import sys, annotator, annotator.model, annotator.schemas, annotator.jobs, "
        "annotator.cli\n"
        "annotator.cli.build_parser()\n"
        "heavy = {'torch', 'transformers', 'gliner2', 'openai', 'PySide6', 'ray', 'pyarrow'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "[]"
