"""annotator.text: one definition of words, tokens, word boundaries and snapping, and every
consumer agreeing with it (CSV import, lexicon, LLM grounding, evaluation, GUI snapping)."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from annotator import review, text
from annotator.evaluate import token_labels, tokenize
from annotator.formats import csv as csv_format
from annotator.formats.base import Errors, Report
from annotator.formats.conll import bio_tags
from annotator.llm.grounding import ground
from annotator.model import Document, Span
from annotator.prelabel.lexicon import LexiconPrelabeler

NFD_E = "e\u0301"  # é as e + COMBINING ACUTE ACCENT
ZWSP, FOUR_PER_EM, NBSP, NNBSP = "\u200b", "\u2005", "\u00a0", "\u202f"


def cut(s: str, spans) -> list[str]:
    return [s[a:b] for a, b in spans]


# ---------------------------------------------------------------- the definition
@pytest.mark.parametrize("ch", ["a", "É", "ß", "7", "٣", "_", "\u0301", "\u0327", "\u20d0"])
def test_word_characters(ch):
    assert text.is_word_char(ch)


@pytest.mark.parametrize("ch", ["'", "\u2019", "\u02bc", "-", "\u2011", " ", "\r", "\n",
                                FOUR_PER_EM, NBSP, NNBSP, ZWSP, "\u200c", "\u200d", "\ufeff",
                                "\u00ad", ".", "%", "°"])
def test_not_word_characters(ch):
    assert not text.is_word_char(ch)


def test_the_regex_classes_agree_with_is_word_char_on_every_code_point():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    marks = [i for i, c in enumerate(map(unicodedata.category, every)) if c[0] == "M"]
    assert [cp for a, b in text._mark_ranges() for cp in range(a, b + 1)] == marks
    word = [i for i, w in enumerate(map(text.is_word_char, every)) if w]
    assert [m.start() for m in re.finditer(text._word_char_re(), every)] == word
    # the lexicon's short lookarounds: exact except for the rare marks they are not given
    rare = {i for i in marks if not 0x300 <= i <= 0x36F}
    not_before, not_after = text.lookarounds()
    before_fails = [m.start() - 1 for m in re.finditer(f"(?!{not_before})", every)]
    after_fails = [m.start() for m in re.finditer(f"(?s)(?!{not_after}).", every)]
    common = [i for i in word if i not in rare]
    assert [i for i in before_fails if i not in rare] == common
    assert [i for i in after_fails if i not in rare] == common
    # ... and exact for those they are given
    nb, na = text.lookarounds(text.rare_marks("rein\u20d0"))
    assert re.search(f"rein{not_after}", "rein\u20d0") and not re.search(f"rein{na}", "rein\u20d0")
    assert re.search(f"{not_before}x", "\u20d0x") and not re.search(f"{nb}x", "\u20d0x")


FR = ("l'infection d\u2019une plaie anti-inflammatoire " + NFD_E + "tat" + ZWSP + "fébrile"
      + FOUR_PER_EM + "38" + NBSP + "°C\r\nNOM_PATIENT")


def test_words():
    assert cut(FR, text.words(FR)) == [
        "l", "infection", "d", "une", "plaie", "anti", "inflammatoire", NFD_E + "tat",
        "fébrile", "38", "C", "NOM_PATIENT"]


def test_tokens():
    assert cut(FR, text.tokens(FR)) == [
        "l", "'", "infection", "d", "\u2019", "une", "plaie", "anti", "-", "inflammatoire",
        NFD_E + "tat", "fébrile", "38", "°", "C", "NOM_PATIENT"]


def test_zero_width_characters_are_never_tokens():
    s = "fièvre\u200b\ufeff, \u200ctoux\u2060\u00ad"
    assert cut(s, text.tokens(s)) == ["fièvre", ",", "toux"]
    assert text.tokens(ZWSP * 3) == [] and text.words(ZWSP) == []


def test_modifier_letter_apostrophe_is_an_apostrophe():
    s = "l\u02bchôpital"
    assert cut(s, text.words(s)) == ["l", "hôpital"]
    assert cut(s, text.tokens(s)) == ["l", "\u02bc", "hôpital"]


# ---------------------------------------------------------------- boundaries and find_all
@pytest.mark.parametrize("s, needle, expected", [
    ("l'infection", "infection", ["infection"]),                  # elision, ASCII apostrophe
    ("d\u2019infection", "infection", ["infection"]),             # typographic apostrophe
    ("désinfection", "infection", []),                            # inside a word
    ("un anti-inflammatoire", "inflammatoire", ["inflammatoire"]),  # a hyphen is a boundary
    ("un anti-inflammatoire", "anti-inflammatoire", ["anti-inflammatoire"]),
    ("un anti-inflammatoire", "anti", ["anti"]),
    ("cafe\u0301 et cafe", "cafe", ["cafe"]),                     # not before its accent
    (NFD_E + "tat", NFD_E + "tat", [NFD_E + "tat"]),
    ("la fièvre" + ZWSP + "persistante", "fièvre", ["fièvre"]),  # U+200B separates
    ("fièvre" + FOUR_PER_EM + "aiguë", "fièvre aiguë", []),       # U+2005 is not a space
    ("fièvre" + FOUR_PER_EM + "aiguë", "aiguë", ["aiguë"]),
    ("38" + NBSP + "°C", "38", ["38"]),
    ("toux\r\nfièvre\r\n", "fièvre", ["fièvre"]),
    ("NOM_PATIENT vu", "PATIENT", []),                            # _ is a word character
    ("l\u02bchôpital", "hôpital", ["hôpital"]),
    ("il a du fil", "il", ["il"]),
])
def test_find_all_word_bounded(s, needle, expected):
    assert cut(s, text.find_all(s, needle)) == expected
    assert all(text.bounded(s, a, b) for a, b in text.find_all(s, needle))


def test_find_all_case_and_boundary_options():
    s = "Infection, infection; désinfection"
    assert text.find_all(s, "infection") == [(11, 20)]
    assert text.find_all(s, "infection", ignore_case=True) == [(0, 9), (11, 20)]
    assert text.find_all(s, "infection", word_boundary=False) == [(11, 20), (25, 34)]
    assert text.find_all("aaa", "aa", word_boundary=False) == [(0, 2)]  # non-overlapping
    assert text.find_all("x", "") == []


def test_bounded_checks_only_word_edges():
    s = "(fièvre)"
    assert text.bounded(s, 0, 8) and text.bounded(s, 1, 7)
    assert not text.bounded(s, 1, 5)            # "fièv" cuts the word
    assert text.bounded("a-b", 1, 2)            # "-" has no word edge to check
    assert not text.bounded("e\u0301", 0, 1)    # the accent belongs to its letter


# ---------------------------------------------------------------- snapping and word steps
@pytest.mark.parametrize("s, sel, expected", [
    ("l'infection", (4, 6), "infection"),
    ("d\u2019une plaie", (0, 2), "d"),                       # the apostrophe is trimmed
    ("d\u2019une plaie", (1, 4), "une"),
    ("un anti-inflammatoire", (10, 14), "inflammatoire"),   # inside one part
    ("un anti-inflammatoire", (4, 12), "anti-inflammatoire"),  # across the hyphen
    ("un anti-inflammatoire", (4, 8), "anti-inflammatoire"),   # stopping on the hyphen
    ("un anti-inflammatoire", (7, 10), "anti-inflammatoire"),  # starting on it
    ("un " + NFD_E + "tat", (4, 5), NFD_E + "tat"),          # inside the accented letter
    ("a" + ZWSP + "fièvre" + ZWSP + "b", (1, 9), "fièvre"),  # zero-width trimmed off
    ("fiè" + ZWSP + "vre", (0, 2), "fiè"),                   # ... and a boundary
    (FOUR_PER_EM + "fièvre" + NBSP + NNBSP, (0, 9), "fièvre"),
    ("toux\r\nfièvre\r\n", (3, 8), "toux\r\nfièvre"),
    ("toux\r\nfièvre\r\n", (7, 13), "fièvre"),             # CR LF never at an edge
    ("toux\r\nfièvre\r\n", (4, 6), ""),
])
def test_snap_to_words(s, sel, expected):
    a, b = text.snap_to_words(s, *sel)
    assert s[a:b] == expected
    if a < b:
        assert not text.is_blank(s[a]) and not text.is_blank(s[b - 1])
        assert text.bounded(s, a, b)


@pytest.mark.parametrize("s, pos, direction, edge, expected", [
    ("l'infection grave", 0, +1, "end", 1),
    ("l'infection grave", 1, +1, "end", 11),
    ("d\u2019une", 5, -1, "start", 2),
    ("anti-inflammatoire", 0, +1, "end", 4),
    ("anti-inflammatoire", 4, +1, "end", 18),
    ("anti-inflammatoire", 18, -1, "start", 5),
    ("a" + ZWSP + "b", 0, +1, "end", 1),
    ("a" + ZWSP + "b", 1, +1, "end", 3),
    ("x" + FOUR_PER_EM + "y" + NBSP + "z", 1, +1, "end", 3),
    (NFD_E + "tat ok", 0, +1, "end", 5),
    ("toux\r\nfièvre", 4, +1, "start", 6),
    ("toux\r\nfièvre", 6, -1, "end", 4),
])
def test_word_step(s, pos, direction, edge, expected):
    assert text.word_step(s, pos, direction, edge=edge) == expected


# ---------------------------------------------------------------- every consumer agrees
def test_lexicon_matches_what_find_all_finds():
    lex = LexiconPrelabeler({"infection": "DISO", "anti-inflammatoire": "CHEM",
                             "inflammatoire": "DISO", "cafe": "X"})
    s = ("l'infection, d\u2019infection, désinfection ; un anti-inflammatoire ; "
         "cafe\u0301 ; Infection" + ZWSP)
    got = [(s[p.start:p.end], p.label) for p in lex.predict_docs([s])[0].spans]
    assert got == [("infection", "DISO"), ("infection", "DISO"),
                   ("anti-inflammatoire", "CHEM"), ("Infection", "DISO")]
    for surface in ("infection", "cafe"):
        assert all(text.bounded(s, a, b) for a, b in text.find_all(s, surface))


def test_lexicon_is_exact_with_rare_combining_marks():
    # U+20D0 (outside U+0300-U+036F) glued to a word: the lexicon sees it as part of the word
    s = "rein\u20d0 ; rein"
    lex = LexiconPrelabeler({"rein": "ANAT"})
    assert [(p.start, p.end) for p in lex.predict_docs([s])[0].spans] == [(8, 12)]
    assert text.find_all(s, "rein") == [(8, 12)]
    assert lex.predict_docs(["rein"])[0].spans[0].end == 4  # the plain pattern again


def test_grounding_across_a_zero_width_space():
    s = "Patient avec une fiè" + ZWSP + "vre et une toux" + ZWSP + "."
    res = ground(s, [{"text": "fièvre", "label": "DISO"}, {"text": "toux", "label": "DISO"}])
    got = [(s[g.start:g.end], g.match) for g in res.spans]
    assert got == [("fiè" + ZWSP + "vre", "tolerant"), ("toux", "exact")]
    assert not res.hallucinations
    assert text.find_all(s, "toux") == [(res.spans[1].start, res.spans[1].end)]


def test_grounding_elision_is_word_bounded():
    s = "Signes d\u2019infection. Désinfection faite."
    res = ground(s, [{"text": "infection", "label": "DISO"}])
    assert [(g.start, g.end) for g in res.spans] == text.find_all(s, "infection") == [(9, 18)]


def test_csv_import_locates_strings_as_find_all_does(tmp_path):
    path = tmp_path / "rows.csv"
    rows = ('ori_review,minor_col\r\n'
            '"l\'infection de l\'enfant\r\nNOM_ENFANT, enfant",enfant\r\n'
            '"un ' + NFD_E + 'tat, ' + 'e, cafe\u0301",e\r\n')
    path.write_bytes(rows.encode("utf-8"))
    errors = Errors()
    docs = list(csv_format.read(path, errors, csv_label_cols={"minor_col": "MinorChild"}))
    errors.raise_if_any()
    for parsed in docs:
        t = parsed.doc.text
        needle = "enfant" if "enfant" in t else "e"
        assert [(sp.start, sp.end) for sp in parsed.doc.spans] == text.find_all(t, needle)
    first, second = (p.doc for p in docs)
    assert cut(first.text, [(s.start, s.end) for s in first.spans]) == ["enfant", "enfant"]
    assert [(s.start, s.end) for s in second.spans] == [(10, 11)]  # not the e of é or of café


def test_evaluation_tokens_keep_a_combining_accent_in_its_word():
    s = "Fie\u0300vre" + ZWSP + " et c" + NFD_E + "phal" + NFD_E + "es."
    assert tokenize(s) == text.tokens(s)
    assert cut(s, tokenize(s)) == ["Fie\u0300vre", "et", "c" + NFD_E + "phal" + NFD_E + "es",
                                   "."]
    assert token_labels(s, [Span(0, 7, "DISO")]) == ["DISO", "O", "O", "O"]


def test_conll_export_tokens_are_the_module_tokens():
    s = "Prise d'amoxicilline" + ZWSP + "."
    doc = Document(text=s, spans=[Span(8, 20, "CHEM")])
    tags = bio_tags(doc, Report())
    assert [(a, b) for a, b, _ in tags] == text.tokens(s)
    assert [t for _, _, t in tags] == ["O", "O", "O", "B-CHEM", "O"]


def test_gui_snapping_across_crlf():
    s = "Toux sèche\r\nfièvre à 39\r\n"
    assert review.snap_to_words is text.snap_to_words
    assert review.snap_to_words(s, 7, 14) == (5, 18)     # "èche\r\nfi" -> "sèche\r\nfièvre"
    assert review.snap_to_words(s, 11, 22) == (12, 23)   # starts on LF, ends inside "39"
    assert review.drag_boundary(s, 0, 4, "end", 11) == (0, 10)  # dragged onto CR: "sèche"
    assert review.snap_fragments(s, [(1, 2), (10, 13)]) == [(0, 4), (12, 18)]
    assert review.move_boundary(s, 0, 10, "end", +1) == (0, 18)
