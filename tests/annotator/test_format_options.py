"""Format options are declared once, in the format registry (``FormatSpec.read_options`` /
``write_options``): the CLI's flags, the GUI's fields and the checks come from there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.cli import build_parser, main
from annotator.errors import AnnotatorError
from annotator.formats import FORMATS, check_options, format_options
from annotator.options import Option

CSV = Path(__file__).resolve().parents[1] / "data" / "csv"


def test_every_registered_option_is_a_flag_of_its_command():
    parser = build_parser()
    for kind, command in (("read", "import"), ("write", "export")):
        sub = next(a for a in parser._subparsers._group_actions[0].choices.items()
                   if a[0] == command)[1]
        flags = {s for a in sub._actions for s in a.option_strings}
        for name in format_options(kind):
            assert "--" + name.replace("_", "-") in flags, (command, name)
    assert [o.name for o in FORMATS["csv"].read_options] == ["csv_text_col", "csv_label_col"]
    assert {o.name for o in FORMATS["gliner2"].write_options} == {"descriptions",
                                                                  "plain_strings"}


def test_an_option_is_checked_against_its_format():
    spec = FORMATS["gliner"]
    assert check_options(spec, "write", {"max_words": "50", "descriptions": False}) == \
        {"max_words": 50}  # typed; another format's option at its default is dropped
    with pytest.raises(AnnotatorError, match="--descriptions is an option of gliner2, not of "
                                             "format 'gliner'"):
        check_options(spec, "write", {"descriptions": True})
    with pytest.raises(AnnotatorError, match="max_words = 'many': expected int"):
        check_options(spec, "write", {"max_words": "many"})
    with pytest.raises(AnnotatorError, match="takes no option 'colour'"):
        check_options(spec, "write", {"colour": "red"})
    assert Option("x", bool).coerce("yes", "t") is True


def test_cli_refuses_another_formats_option_and_uses_its_own(tmp_path, capsys):
    db = str(tmp_path / "p.sqlite")
    assert main(["--db", db, "import", "--format", "csv", str(CSV),
                 "--csv-label-col", "minor_col=MinorChild", "--add-labels", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["added"] > 0 and got["spans"] > 0
    assert main(["--db", db, "export", "--format", "jsonl", "--out", str(tmp_path / "x.jsonl"),
                 "--descriptions"]) == 2
    assert "--descriptions is an option of gliner2, not of format 'jsonl'" in \
        capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_gui_fields_come_from_the_same_declarations(qtbot, tmp_path):
    """The Import dialog shows the csv options; its one-line label columns import like the
    repeated flag."""
    from annotator.jobs import drive
    from db import Store
    from ui import jobs_actions
    from ui import settings as st

    spec = next(j for j in jobs_actions.JOBS if j.key == "import")
    fields = {f.name: f for f in spec.fields(st.get_settings())}
    assert fields["csv_text_col"].default == "ori_review"
    assert "csv only" in fields["csv_label_col"].tooltip
    export = {f.name for f in next(j for j in jobs_actions.JOBS if j.key == "export")
              .fields(st.get_settings())}
    assert set(format_options("write")) <= export
    fn = jobs_actions.load_job_function(spec)
    with Store(str(tmp_path / "g.sqlite")) as store:
        res = drive(fn(store, path=str(CSV), fmt="csv", add_labels=True, csv_text_col="",
                       csv_label_col="minor_col=MinorChild; gender_col=GenderIndication"))
        labels = {s.label for d in store.iter_documents() for s in d.spans}
    assert res.spans > 0 and labels == {"MinorChild", "GenderIndication"}


def test_prelabel_dialog_fields_are_the_backends_options(tmp_path):
    """The Pre-label dialog's backend fields are the registry's options (the same the
    ``prelabel`` flags come from); their text values are typed, another backend's are
    refused by name."""
    from annotator.model import Document, LabelSchema, Span
    from annotator.prelabel.job import build_prelabeler
    from annotator.prelabel.registry import backends, get_backend
    from db import Store
    from ui import jobs_actions
    from ui import settings as st

    spec = next(j for j in jobs_actions.JOBS if j.key == "prelabel")
    fields = {f.name: f for f in spec.fields(st.get_settings())}
    declared = {o.name for b in backends() for o in get_backend(b).options}
    assert declared <= set(fields)
    assert fields["descriptions"].choices == ("", "on", "off")  # default, on, off
    assert fields["quantize"].choices == ("", "int8", "bf16")
    with Store(str(tmp_path / "p.sqlite")) as store:
        store.set_schema(LabelSchema.from_dict({"name": "t", "labels": [{"key": "DISO"}]}))
        store.import_documents([Document(text="Fièvre et fièvre", name="a", spans=[
            Span(0, 6, "DISO", source="human", status="accepted")])])
        pl = build_prelabeler(store, backend="lexicon", case_insensitive="on")
        assert pl.run_key() == build_prelabeler(store, backend="lexicon",
                                                case_insensitive=True).run_key()
        assert pl.run_key() != build_prelabeler(store, backend="lexicon").run_key()
        with pytest.raises(AnnotatorError, match="backend 'lexicon' takes no option "
                                                 "'label_map'"):
            build_prelabeler(store, backend="lexicon", label_map="quaero")
