"""The training package: its trainer registry, the one ``train_job`` every trainer runs
through, and its import graph (no cycle, imports inside functions included).

A fake trainer (no model, no torch) stands in for a backend: it shows what the job does around
any trainer -- the gold selection and split, the before/after evaluation on the held-out
documents, the regression check that keeps the old default, what is recorded and registered.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from annotator.errors import AnnotatorError
from annotator.evaluate import Counts, Report
from annotator.jobs import Progress, drive
from annotator.model import Document, Label, LabelSchema, Span
from annotator.training import Trainer, get_trainer, register_trainer, train_job, trainers
from annotator.training import registry as registry_mod
from db import Store
from db.registry import get_default, list_models

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the import graph
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(package: str = "annotator") -> dict[str, set[str]]:
    """``module -> project modules it imports``, every import statement counted (those
    inside functions too); ``from pkg import name`` counts as importing ``pkg.name`` when
    that is a module."""
    paths = {_module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[:len(here.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                for a in node.names:
                    found.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in paths else mod)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_core_has_no_import_cycle():
    graph = _import_graph()
    assert "annotator.training.job" in graph
    assert _cycles(graph) == []


def test_the_training_package_never_imports_the_old_modules():
    graph = _import_graph()
    old = {"annotator.train", "annotator.train_prompt", "annotator.train_transformers",
           "annotator.train_gliner2"}
    offenders = {m: sorted(deps & old) for m, deps in graph.items()
                 if m.startswith("annotator.training") and deps & old}
    assert offenders == {}


def test_cycle_check_sees_imports_inside_functions():
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert _cycles(graph) == [["a", "b"]]


# ---------------------------------------------------------------- the registry
def test_registry_lists_the_built_in_trainers_and_the_cli_offers_them():
    from annotator.cli import build_parser

    assert trainers()[:2] == ("gliner2", "transformers")
    for name in trainers():
        cls = get_trainer(name)
        assert issubclass(cls, Trainer) and cls.name == name and cls.help
    parser = build_parser()
    sub = next(a for a in parser._actions if getattr(a, "choices", None)
               and "train" in a.choices)
    backend = next(a for a in sub.choices["train"]._actions if a.dest == "backend")
    assert tuple(backend.choices) == trainers()
    with pytest.raises(AnnotatorError, match="unknown training backend 'nope'; expected one "
                                             "of gliner2, transformers"):
        get_trainer("nope")


def test_prelabel_backends_and_trainers_name_each_other():
    from annotator.prelabel.registry import backends, get_backend

    for name in backends():
        trainer = get_backend(name).trainer
        if trainer is not None:
            assert trainer in trainers(), name
    for name in trainers():
        assert get_trainer(name).prelabel_backend in backends(), name


def test_the_gui_train_dialog_offers_the_registered_trainers():
    pytest.importorskip("PySide6")
    from ui import jobs_actions
    from ui import settings as st

    spec = next(j for j in jobs_actions.JOBS if j.key == "train")
    (backend,) = [f for f in spec.fields(st.get_settings()) if f.name == "backend"]
    assert backend.choices == trainers()
    assert jobs_actions.load_job_function(spec) is train_job


def test_registering_twice_or_a_non_trainer_is_refused():
    class Other(Trainer):
        name = "gliner2"

    with pytest.raises(AnnotatorError, match="registered twice"):
        register_trainer(Other)
    with pytest.raises(AnnotatorError, match="not a Trainer"):
        register_trainer(dict)  # type: ignore[arg-type]


# ---------------------------------------------------------------- one job, any trainer
def _report(f1: float) -> Report:
    # F1 = 1 with tp=1; F1 = 0 with fp=1, fn=1
    return Report("strict", {"DRUG": Counts(1, 0, 0) if f1 else Counts(0, 1, 1)}, ["DRUG"])


class FakeTrainer(Trainer):
    """Records the calls; 'trains' for three steps; the base scores 1.0, the new model what
    ``new_f1`` says."""

    name = "fake-test"
    title = "Fake"
    help = "a test double"
    prelabel_backend = "lexicon"
    calls: list[str] = []
    new_f1 = 1.0
    saved: Path | None = None

    def prepare(self, data):
        self.calls.append(f"prepare {len(data.train)} train {len(data.held)} held")
        yield Progress(0, None, "loading base model")
        return [{"text": d.text} for d in data.train]

    def evaluate(self, docs, schema):
        self.calls.append(f"evaluate {'new' if self.saved else 'base'} on {len(docs)}")
        yield Progress(0, None, "evaluating")
        return _report(self.new_f1 if self.saved else 1.0)

    def train(self):
        for step in range(1, 4):
            yield Progress(step, 3, "training", {"loss": 1.0 / step})
        self.calls.append("train")
        return 3

    def save(self, out):
        (out / "weights.bin").write_bytes(b"fake")
        self.saved = out
        self.calls.append("save")

    def params(self):
        return {"fake": True}


@pytest.fixture
def fake_trainer(monkeypatch):
    monkeypatch.setitem(registry_mod._TRAINERS, FakeTrainer.name, FakeTrainer)
    FakeTrainer.calls = []
    FakeTrainer.new_f1 = 1.0
    return FakeTrainer


@pytest.fixture
def gold_store(tmp_path):
    store = Store(str(tmp_path / "t.sqlite"), "t")
    store.set_schema(LabelSchema("drugs", labels=[Label("DRUG")]))
    texts = [f"Patient {i} sous aspirine." for i in range(6)]
    store.import_documents([
        Document(text=t, name=f"d{i}", spans=[Span(t.index("aspirine"), t.index("."), "DRUG",
                                                   source="human", status="accepted")])
        for i, t in enumerate(texts)])
    for summary in store.document_summaries()[:5]:  # d5 is not reviewed: not gold
        store.set_review_status(summary.id, "reviewed")
    yield store
    store.close()


def test_train_job_runs_any_registered_trainer(fake_trainer, gold_store, tmp_path):
    seen: list[str] = []
    res = drive(train_job(gold_store, base_model="base", out=str(tmp_path / "m"),
                          backend="fake-test", split="train=0.6,test=0.4", device="cpu"),
                on_progress=lambda p: seen.append(p.message))
    assert res.n_train + res.n_eval == 5 and res.n_eval > 0
    assert fake_trainer.calls == [f"prepare {res.n_train} train {res.n_eval} held",
                                  f"evaluate base on {res.n_eval}", "train", "save",
                                  f"evaluate new on {res.n_eval}"]
    assert seen.count("training") == 3 and seen[-1] == "done" and res.steps == 3
    info = json.loads((tmp_path / "m" / "annotator_training.json").read_text("utf-8"))
    assert info["params"]["backend"] == "fake-test" and info["params"]["fake"] is True
    assert info["data_size"] == res.n_train and info["data_hash"] == res.data_hash
    (model,) = list_models(gold_store)
    # registered under the pre-labeling backend the trainer names
    assert model.backend == "lexicon" and res.made_default
    assert get_default(gold_store).id == model.id == res.model_id


def test_a_regression_keeps_the_old_default_unless_forced(fake_trainer, gold_store, tmp_path):
    kw = {"base_model": "base", "backend": "fake-test", "split": "train=0.6,test=0.4",
          "device": "cpu"}
    first = drive(train_job(gold_store, out=str(tmp_path / "a"), **kw))
    assert first.made_default
    fake_trainer.new_f1 = 0.0
    worse = drive(train_job(gold_store, out=str(tmp_path / "b"), **kw))
    assert not worse.made_default and worse.regressed == {"DRUG": [1.0, 0.0]}
    assert "not made the default" in worse.note
    assert get_default(gold_store).id == first.model_id
    forced = drive(train_job(gold_store, out=str(tmp_path / "c"), force=True, **kw))
    assert forced.made_default and get_default(gold_store).id == forced.model_id


def test_cancel_during_training_saves_and_registers_nothing(fake_trainer, gold_store,
                                                            tmp_path):
    job = train_job(gold_store, base_model="base", out=str(tmp_path / "m"),
                    backend="fake-test", split="train=1", eval_split="train", device="cpu")
    for p in job:
        if p.message == "training":
            job.close()
            break
    assert "save" not in fake_trainer.calls
    assert not (tmp_path / "m").exists() and list_models(gold_store) == []


def test_options_a_trainer_cannot_honour_fail_before_any_work(fake_trainer, gold_store,
                                                              tmp_path):
    with pytest.raises(AnnotatorError, match="--lora is not implemented for the fake-test"):
        drive(train_job(gold_store, base_model="base", out=str(tmp_path / "m"),
                        backend="fake-test", lora=True, device="cpu"))
    assert fake_trainer.calls == []
    with pytest.raises(AnnotatorError, match="unknown training backend"):
        drive(train_job(gold_store, base_model="base", out=str(tmp_path / "m"),
                        backend="nope", device="cpu"))


def test_old_import_paths_still_work():
    import annotator.train as old

    assert old.train_job is train_job
    from annotator.training.data import gold_documents

    assert old.gold_documents is gold_documents
