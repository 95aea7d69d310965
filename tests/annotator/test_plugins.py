"""Third-party plugins through entry points: a small distribution is built in a temporary
folder, installed with pip (``--target``, no network, no build isolation) and used by the
real CLI in a subprocess whose ``PYTHONPATH`` holds it: ``prelabel --backend demo`` and
``import/export --format demotsv``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
"""A demo pre-labeler and a demo format, as a third party would write them."""


class DemoPrelabeler:
    version = "1.0"

    def __init__(self, *, labels, model=None, threshold=0.5, device="cpu", word="fièvre",
                 label=None):
        self.labels, self.word = labels, word
        self.label = label or next(iter(labels))

    def predict(self, texts):
        out = []
        for text in texts:
            spans = []
            i = text.find(self.word)
            while i >= 0:
                spans.append({"start": i, "end": i + len(self.word), "label": self.label,
                              "score": 0.75})
                i = text.find(self.word, i + 1)
            # bad ones the tool must drop and count: past the end, unknown label, bad score
            spans.append({"start": len(text) - 2, "end": len(text) + 5, "label": self.label,
                          "score": 0.9})
            spans.append({"start": 0, "end": 1, "label": "NOT_A_LABEL", "score": 0.9})
            spans.append({"start": 0, "end": 1, "label": self.label, "score": 7})
            out.append(spans)
        return out


class DemoTsv:
    """One document a line: name TAB text TAB start:end:label,... (no spans: empty)."""

    name = "demotsv"
    extension = ".tsv"

    def read(self, path):
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                parts = line.rstrip("\\n").split("\\t")
                if len(parts) != 3:
                    raise ValueError(f"{path}:{n}: expected 3 tab-separated fields, "
                                     f"got {len(parts)}")
                name, text, spans = parts
                out = []
                for item in filter(None, spans.split(",")):
                    s, e, label = item.split(":")
                    out.append({"start": int(s), "end": int(e), "label": label})
                yield {"name": name, "text": text, "spans": out}

    def write(self, records, path):
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                spans = ",".join(f"{s['start']}:{s['end']}:{s['label']}" for s in r["spans"]
                                 if s["status"] == "accepted")
                fh.write(f"{r['name']}\\t{r['text']}\\t{spans}\\n")
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "medannotator-demo-plugin"
version = "0.1.0"

[project.entry-points."medannotator.prelabelers"]
demo = "demo_plugin:DemoPrelabeler"

[project.entry-points."medannotator.formats"]
demotsv = "demo_plugin:DemoTsv"

[tool.setuptools]
py-modules = ["demo_plugin"]
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "demo_plugin.py").write_text(PLUGIN, encoding="utf-8")
    (src / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    target = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(src)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "demo_plugin.py").is_file()
    return target


def _cli(plugin_path, *argv, ok=True):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)]),
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "annotator", *argv], env=env,
                          capture_output=True, text=True)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


DOCS = [{"name": "a", "text": "fièvre et toux; fièvre encore"},
        {"name": "b", "text": "rien de notable"}]


def test_prelabel_and_formats_from_an_installed_plugin(plugin_path, tmp_path):
    db = str(tmp_path / "p.sqlite")
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DOCS), "utf-8")
    _cli(plugin_path, "--db", db, "import", "--format", "jsonl", "--schema", "quaero", str(src))

    helptext = _cli(plugin_path, "prelabel", "--help").stdout
    assert "demo" in helptext and "--option" in helptext
    res = json.loads(_cli(plugin_path, "--db", db, "prelabel", "--backend", "demo",
                          "--option", "word=fièvre", "--option", 'label="DISO"',
                          "--json").stdout)
    # two real spans on a, none on b; per document 3 bad ones dropped and counted
    assert (res["docs"], res["spans"], res["dropped_misaligned"]) == (2, 2, 6)
    assert res["source"] == "demo" and res["source_version"] == "demo@1.0"

    from db import Store

    def proposals():
        with Store(db) as store:
            return sorted((d.name, s.start, s.end, s.label, s.source, s.source_version, s.score)
                          for d in store.iter_documents() for s in d.spans)

    assert proposals() == [("a", 0, 6, "DISO", "demo", "demo@1.0", 0.75),
                           ("a", 16, 22, "DISO", "demo", "demo@1.0", 0.75)]
    # same command: nothing to do; another configuration replaces the source's proposals
    again = json.loads(_cli(plugin_path, "--db", db, "prelabel", "--backend", "demo",
                            "--option", "word=fièvre", "--option", 'label="DISO"',
                            "--json").stdout)
    assert (again["docs"], again["already_done"]) == (0, 2)
    _cli(plugin_path, "--db", db, "prelabel", "--backend", "demo", "--option", "word=toux",
         "--option", 'label="DISO"')
    assert [p[1:3] for p in proposals()] == [(10, 14)]
    # a backend's option that another backend has is refused by name
    bad = _cli(plugin_path, "--db", db, "prelabel", "--backend", "demo", "--quantize", "int8",
               ok=False)
    assert bad.returncode == 2 and "not an option of backend 'demo'" in bad.stderr

    # export through the plugin's writer (atomic publish), import it back elsewhere
    _cli(plugin_path, "--db", db, "review", "accept")
    out = tmp_path / "gold.tsv"
    _cli(plugin_path, "--db", db, "export", "--format", "demotsv", "--out", str(out),
         "--review-status", "todo,in_progress,reviewed")
    lines = out.read_text("utf-8").splitlines()
    assert lines == ["a\tfièvre et toux; fièvre encore\t10:14:DISO", "b\trien de notable\t"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    db2 = str(tmp_path / "q.sqlite")
    _cli(plugin_path, "--db", db2, "import", "--format", "demotsv", "--schema", "quaero",
         str(out))
    with Store(db2) as store:
        docs = {d.name: d for d in store.iter_documents()}
    assert {n: [(s.start, s.end, s.label, s.source) for s in d.spans]
            for n, d in docs.items()} == {"a": [(10, 14, "DISO", "import")], "b": []}


def test_a_plugin_format_is_validated_and_imported_all_or_nothing(plugin_path, tmp_path):
    db = str(tmp_path / "p.sqlite")
    good = tmp_path / "good.tsv"
    good.write_text("a\tfièvre\t0:6:DISO\n", "utf-8")
    _cli(plugin_path, "--db", db, "import", "--format", "demotsv", "--schema", "quaero",
         str(good))
    # the reader's own FILE:LINE error, and a span past the end caught by the tool's checks
    broken = tmp_path / "broken.tsv"
    broken.write_text("b\ttoux\t0:4:DISO\nc\tno spans field\n", "utf-8")
    done = _cli(plugin_path, "--db", db, "import", "--format", "demotsv", str(broken), ok=False)
    assert done.returncode == 2
    assert f"{broken}:2" in done.stderr and "expected 3 tab-separated fields" in done.stderr
    past = tmp_path / "past.tsv"
    past.write_text("d\ttoux\t0:9:DISO\n", "utf-8")
    done = _cli(plugin_path, "--db", db, "import", "--format", "demotsv", str(past), ok=False)
    assert done.returncode == 2 and str(past) in done.stderr and "past" in done.stderr
    from db import Store

    with Store(db) as store:
        assert [d.name for d in store.iter_documents()] == ["a"]  # nothing half-written


def test_plugins_listed_without_being_imported(plugin_path, tmp_path):
    """Entry points are read by name; a plugin that fails to import says so when used."""
    broken = tmp_path / "site"
    broken.mkdir()
    dist = broken / "brokenplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [medannotator.prelabelers]
        broken = no_such_module:Thing
        """))
    env_path = os.pathsep.join([str(broken), str(plugin_path)])
    helptext = _cli(env_path, "prelabel", "--help").stdout
    assert "broken" in helptext and "demo" in helptext
    db = str(tmp_path / "p.sqlite")
    src = tmp_path / "docs.jsonl"
    src.write_text(json.dumps(DOCS[0], ensure_ascii=False) + "\n", "utf-8")
    _cli(env_path, "--db", db, "import", "--format", "jsonl", "--schema", "quaero", str(src))
    done = _cli(env_path, "--db", db, "prelabel", "--backend", "broken", ok=False)
    assert done.returncode == 2
    assert "plugin 'broken' (no_such_module:Thing, brokenplug 0.1) cannot be loaded" \
        in done.stderr
    assert "Traceback" not in done.stderr
