"""brat import/export on real MACCROBAT and QUAERO files (tests/data, see LICENSES.md)."""

from pathlib import Path

import pytest

from annotator.errors import FormatError
from annotator.formats import brat
from annotator.formats.base import Errors
from annotator.io import export_job, import_job
from annotator.jobs import drive
from db import Store

DATA = Path(__file__).resolve().parents[1] / "data"
MACCROBAT = DATA / "maccrobat"
QUAERO = DATA / "quaero" / "corpus"


def read_dir(root: Path) -> dict:
    errors = Errors()
    docs = {p.doc.name: p.doc for p in brat.read(root, errors)}
    errors.raise_if_any()
    return docs


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "db.sqlite"))
    yield s
    s.close()


@pytest.mark.parametrize("root,schema", [(MACCROBAT, "maccrobat"), (QUAERO, "quaero")])
def test_brat_round_trip_is_byte_identical_with_same_fragments(store, tmp_path, root, schema):
    drive(import_job(store, fmt="brat", path=root, schema=schema))
    out = tmp_path / "out"
    summary = drive(export_job(store, fmt="brat", out=out, review_status="all"))
    before, after = read_dir(root), read_dir(out)
    assert summary.documents == len(before) == len(after)
    for name, doc in before.items():
        assert (out / f"{name}.txt").read_bytes() == (root / f"{name}.txt").read_bytes()
        assert sorted(sp.key() for sp in after[name].spans) == sorted(
            sp.key() for sp in doc.spans)
        # E/R/A/*/# lines survive (their T ids are kept)
        assert after[name].meta.get("brat") == doc.meta.get("brat")


def test_discontinuous_and_zero_width_space_offsets():
    docs = read_dir(MACCROBAT)
    disc = [sp for sp in docs["MACCROBAT2020/21308977"].spans if sp.is_discontinuous]
    assert len(disc) == 6
    text = docs["MACCROBAT2020/21308977"].text
    sp = next(s for s in disc if s.meta["brat_id"] == "T15")
    assert sp.parts == ((474, 481), (490, 503))
    assert sp.surface(text) == "cardiac malformations"
    assert "\u200b" in docs["MACCROBAT2020/21477357"].text
    assert all(sp.end <= len(d.text) for d in docs.values() for sp in d.spans)


def test_quaero_empty_ann_conf_ignored_and_notes_attached():
    docs = read_dir(QUAERO)
    assert "train/MEDLINE/13344418" in docs and docs["train/MEDLINE/13344418"].spans == []
    assert docs["train/MEDLINE/16119377"].spans == []
    assert not any("conf" in name for name in docs)
    spans = docs["train/MEDLINE/13660928"].spans
    t1 = next(sp for sp in spans if sp.meta["brat_id"] == "T1")
    assert t1.meta["notes"] == ["C0920425"]
    multi = [sp for sp in docs["train/EMEA/425_6"].spans
             if sp.meta.get("notes") == ["C0205653 C0008059"]]
    assert len(multi) == 1


def test_tab_in_surface_trailing_whitespace_missing_ann_and_crlf(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    text = "Fever\u2005and\tcough.\r\nNo rash.\r\n"
    (root / "sub" / "a.txt").write_bytes(text.encode("utf-8"))
    (root / "sub" / "a.ann").write_bytes(
        "T1\tSign_symptom 0 5\tFever\u2005and\tx\n"      # surface with a TAB: mismatch only
        "T2\tSign_symptom 10 15\tcough\n"
        "E1\tSign_symptom:T1 \n"
        "A1\tPOLARITY E1 NEG\t\n"
        "R1\tMODIFY Arg1:T2 Arg2:E1\t\n"
        "#1\tAnnotatorNotes E1\tnote on an event\n".encode("utf-8"))
    (root / "b.txt").write_bytes(b"no annotations here\n")
    (root / "annotation.conf").write_text("[entities]\n")
    docs = read_dir(root)
    assert set(docs) == {"sub/a", "b"}
    a = docs["sub/a"]
    assert a.text == text  # no newline translation
    assert [sp.surface(text) for sp in a.spans] == ["Fever", "cough"]
    assert a.meta["brat"]["surface_mismatches"] == ["T1"]
    assert len(a.meta["brat"]["other"]) == 4
    assert docs["b"].spans == []


def test_offset_past_end_names_file_and_line(tmp_path):
    (tmp_path / "x.txt").write_text("short", encoding="utf-8")
    (tmp_path / "x.ann").write_text("T1\tA 0 3\tsho\nT2\tA 2 40\toops\n", encoding="utf-8")
    with pytest.raises(FormatError) as exc:
        read_dir(tmp_path)
    assert f"{tmp_path / 'x.ann'}:2" in str(exc.value)
    assert "past the text" in str(exc.value)
