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


# ---------------------------------------------------------------------------- the store port
# Every import statement counts, including those inside functions: a lazy import is still a
# dependency (and a cycle hidden behind one is still a cycle).
def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def full_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names (relative imports resolved;
    ``from pkg import name`` is ``pkg.name`` when that is a module of this repository)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if _is_module(sub) else mod)
    return out


def _py(pkg: str) -> list[Path]:
    return sorted((ROOT / pkg).rglob("*.py"))


def test_only_the_composition_roots_import_db():
    """Outside ``annotator/cli/`` the core imports neither ``db`` nor ``ui``; ``ui`` imports
    ``db`` only in ``ui/app.py``; ``db`` never imports ``ui``."""
    def top(names):
        return {n.split(".")[0] for n in names}

    core = [str(p.relative_to(ROOT)) for p in _py("annotator")
            if "cli" not in p.relative_to(ROOT / "annotator").parts[:1]
            and top(full_imports(p)) & {"db", "ui"}]
    gui = [str(p.relative_to(ROOT)) for p in _py("ui")
           if p.name != "app.py" and "db" in top(full_imports(p))]
    store = [str(p.relative_to(ROOT)) for p in _py("db") if "ui" in top(full_imports(p))]
    assert (core, gui, store) == ([], [], [])


def test_no_import_cycles_in_the_core():
    graph = {_module_name(p): {m for m in full_imports(p)
                               if m.split(".")[0] == "annotator" and _is_module(m)}
             for p in _py("annotator")}
    # Tarjan's strongly connected components: a component of two or more is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_store_implements_the_port():
    from annotator.ports import StorePort
    from db import Store

    missing = [name for name in dir(StorePort)
               if not name.startswith("_") and not hasattr(Store, name)
               and name not in ("url", "project")]
    assert missing == []
