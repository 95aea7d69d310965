"""Fuzzing the importers through the real CLI: malformed inputs built by mutating the fixtures
in tests/data (seeded, ``random.Random``), imported into a SQLite project that already holds
data. Every input is either accepted (and the project still exports) or refused with exit 2
and one ``error:`` line that names the file, leaving every table exactly as it was.

For one format: ``pytest tests/annotator/test_import_fuzz.py -k gliner``; another seed:
``FUZZ_SEED=7``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from annotator.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = int(os.environ.get("FUZZ_SEED", "20269"))
CASES_PER_FORMAT = 30  # x 9 formats = 270 malformed inputs
FORMATS = ("text", "jsonl", "brat", "corona2", "csv", "pubtator", "gliner", "gliner2", "conll")
JSON_FORMATS = {"jsonl", "corona2", "gliner", "gliner2"}
SUFFIX = {"text": ".txt", "jsonl": ".jsonl", "corona2": ".json", "csv": ".csv",
          "pubtator": ".txt", "gliner": ".json", "gliner2": ".jsonl", "conll": ".conll"}

# values put in place of a JSON value: wrong types, edge numbers, bad strings
NASTY_VALUES: list[object] = [
    None, 0, -1, 5, 1.5, 0.5, True, False, "", "x", "\udfff", "\ud800x", {}, [], [0],
    [[0, 1]], {"a": 1}, 10**30, 1e308, float("inf"), float("-inf"), float("nan"), -0.0,
    "DISO\n", "   ", ["DISO"], [None, None, None], {"start": 0}, "a" * 5000,
]
# fields put in place of a column of a line-based format
NASTY_FIELDS = ["", "-1", "1.5", "99999999", "x", "\u0663", "+3", "1_0", "0x10", " 3", "3 ",
                "0 0", "5 2", "2 1;0", "B-", "I-", "O", "T", "|", "\t", ";", ",", '"',
                "NaN", "Infinity", "a" * 200_000, "\u2028", "\x00", "\ufeff"]
INSERTED_BYTES = [b"\xff", b"\xc3\x28", b"\x00", b"\r", b"\n", b"\t", b'"', b"{", b"]", b",",
                  b"\xed\xa0\x80", b"\xef\xbb\xbf", b"|", b";", b"\\", b"null"]


def dump_tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: the whole database content for a comparison."""
    con = sqlite3.connect(db)
    try:
        names = [n for (n,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in names}
    finally:
        con.close()


def cli(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


# ---------------------------------------------------------------------- base inputs
@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """A project holding data (the LLM documents and the QUAERO MEDLINE brat files: none of
    them is a fuzzing base, so a mutated input is never skipped as a duplicate), and the base
    inputs of every format: the fixture files, plus native jsonl (the fixtures hold none)
    exported from a scratch project that imported the Corona2 and GLiNER2 fixtures."""
    root = tmp_path_factory.mktemp("fuzz-base")
    db = root / "template.sqlite"
    for fmt, src in (("jsonl", DATA / "llm_fr_docs.jsonl"),
                     ("brat", DATA / "quaero" / "corpus" / "train" / "MEDLINE")):
        assert cli("--db", str(db), "import", "--format", fmt, str(src), "--add-labels") == 0
    scratch = root / "scratch.sqlite"
    for fmt, src in (("corona2", DATA / "corona2" / "corona2_fr.json"),
                     ("gliner2", DATA / "gliner2" / "gliner2_fr.jsonl")):
        assert cli("--db", str(scratch), "import", "--format", fmt, str(src),
                   "--add-labels") == 0
    assert cli("--db", str(scratch), "export", "--format", "jsonl", "--out",
               str(root / "base.jsonl")) == 0
    brat = DATA / "maccrobat" / "MACCROBAT2020"
    bases = {
        "text": {p.name: p.read_bytes() for p in sorted(brat.glob("*.txt"))},
        "brat": {p.name: p.read_bytes() for p in sorted(brat.iterdir())},
        "jsonl": {"base.jsonl": (root / "base.jsonl").read_bytes()},
        "conll": {"base.conll": conll_from_gliner(DATA / "gliner" / "gliner_fr.json")},
        "corona2": {"corona2_fr.json": (DATA / "corona2" / "corona2_fr.json").read_bytes()},
        "csv": {"reviews_fr.csv": (DATA / "csv" / "reviews_fr.csv").read_bytes()},
        "pubtator": {"pubtator.txt":
                     (DATA / "pubtator" / "corpus_pubtator.sample.txt").read_bytes()},
        "gliner": {"gliner_fr.json": (DATA / "gliner" / "gliner_fr.json").read_bytes()},
        "gliner2": {"gliner2_fr.jsonl": (DATA / "gliner2" / "gliner2_fr.jsonl").read_bytes()},
    }
    return db, bases


def conll_from_gliner(path: Path) -> bytes:
    """The GLiNER fixture as BIO lines (its longest entity wins where they nest)."""
    lines = []
    for rec in json.loads(path.read_text(encoding="utf-8")):
        toks = rec["tokenized_text"]
        tags = ["O"] * len(toks)
        for s, e, label in sorted(rec["ner"], key=lambda n: n[0] - n[1]):
            if all(t == "O" for t in tags[s:e + 1]):
                tags[s:e + 1] = [f"B-{label}"] + [f"I-{label}"] * (e - s)
        lines += ["-DOCSTART-\tO", ""] + [f"{t}\t{g}" for t, g in zip(toks, tags)] + [""]
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------------- mutators
def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _dump_json(rng: random.Random, obj: object) -> bytes:
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5)  # NaN/Infinity stay as tokens
    text = text.replace('"__DEEP__"', "[" * 3000 + "]" * 3000)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes CESU bytes


def mutate_json_value(rng: random.Random, raw: bytes) -> bytes:
    """Replace, delete or deepen one value of a JSON document."""
    obj = json.loads(raw)
    paths = _paths(obj)[1:]
    if paths:  # a depth first, then a value at that depth: the top-level keys and the span
        depth = rng.choice(sorted({len(p) for p in paths}))  # fields get hit as often as
        path = rng.choice([p for p in paths if len(p) == depth])  # deep meta values
    else:
        path = ()
    if not path:
        return _dump_json(rng, rng.choice(NASTY_VALUES))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    roll = rng.random()
    if roll < 0.12 and isinstance(parent, dict):
        del parent[path[-1]]
    elif roll < 0.2:
        parent[path[-1]] = "__DEEP__"
    else:
        parent[path[-1]] = rng.choice(NASTY_VALUES)
    return _dump_json(rng, obj)


def mutate_json_lines(rng: random.Random, raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    idx = [i for i, line in enumerate(lines) if line.strip()]
    i = rng.choice(idx)
    if rng.random() < 0.1:
        lines[i] = rng.choice([b"null", b"[]", b"5", b'"text"', b"{}", b"[" * 5000])
    else:
        lines[i] = mutate_json_value(rng, lines[i])
    return b"\n".join(lines)


def mutate_fields(rng: random.Random, raw: bytes) -> bytes:
    """Replace, drop or add one column of one line (tab, pipe, space or comma separated)."""
    text = raw.decode("utf-8")
    lines = text.split("\n")
    idx = [i for i, line in enumerate(lines) if line.strip()]
    i = rng.choice(idx)
    seps = [s for s in ("\t", "|", " ", ",", ";") if s in lines[i]] or [" "]
    sep = rng.choice(seps)
    cols = lines[i].split(sep)
    k = rng.randrange(len(cols))
    roll = rng.random()
    if roll < 0.15 and len(cols) > 1:
        del cols[k]
    elif roll < 0.25:
        cols.insert(k, rng.choice(NASTY_FIELDS))
    else:
        cols[k] = rng.choice(NASTY_FIELDS)
    lines[i] = sep.join(cols)
    return "\n".join(lines).encode("utf-8")


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """Truncate, cut out, duplicate or insert bytes at random places."""
    roll, n = rng.random(), max(len(raw), 1)
    a = rng.randrange(n)
    b = min(n, a + rng.randint(1, 40))
    if roll < 0.25:
        return raw[:a]
    if roll < 0.45:
        return raw[:a] + raw[b:]
    if roll < 0.6:
        return raw[:b] + raw[a:b] + raw[b:]
    return raw[:a] + rng.choice(INSERTED_BYTES) + raw[a:]


def mutator_for(fmt: str, name: str) -> list[tuple[float, Callable]]:
    if fmt in ("jsonl", "gliner2"):
        structural = mutate_json_lines
    elif fmt in JSON_FORMATS:
        structural = mutate_json_value
    elif fmt == "text" or (fmt == "brat" and name.endswith(".txt")):
        structural = mutate_bytes
    else:
        structural = mutate_fields
    return [(0.65, structural), (1.0, mutate_bytes)]


def make_cases(fmt: str, bases: dict[str, dict[str, bytes]], n: int) -> list[dict]:
    """``n`` malformed inputs of one format: files, the import target and the file mutated."""
    rng = random.Random(f"{SEED}-{fmt}")
    files = bases[fmt]
    cases = []
    while len(cases) < n:
        name = rng.choice(sorted(files))
        original = files[name]
        draw = rng.random()
        mutate = next(m for limit, m in mutator_for(fmt, name) if draw < limit)
        mutated = mutate(rng, original)
        for _ in range(rng.choice((0, 0, 1, 2))):  # sometimes several mutations
            mutated = mutate_bytes(rng, mutated) if rng.random() < 0.3 else mutated
        if mutated == original:
            continue
        folder = fmt in ("brat", "text") or rng.random() < 0.25
        if folder:  # the mutant among the good files, renamed so both are read
            out = dict(files)
            bad = name if fmt in ("brat", "text") else f"z_{name}"
            out[bad] = mutated
        else:
            out, bad = {name: mutated}, name
        cases.append({"files": out, "target": "" if folder else name, "bad": bad,
                      "how": mutate.__name__})
    return cases


# ---------------------------------------------------------------------- the test
def run_case(case: dict, fmt: str, template: Path, work: Path, capsys) -> str | None:
    """None if the case held, else what went wrong."""
    src = work / "in"
    src.mkdir(parents=True)
    for name, content in case["files"].items():
        (src / name).write_bytes(content)
    target = src / case["target"] if case["target"] else src
    bad_file = src / case["bad"]
    db = work / "p.sqlite"
    shutil.copyfile(template, db)
    before = dump_tables(db)
    capsys.readouterr()
    # --add-labels: the fixtures' labels are not all in the project schema, and a refusal
    # must come from the mutation
    argv = ["--db", str(db), "import", "--format", fmt, str(target), "--add-labels"]
    try:
        rc = cli(*argv)
    except BaseException:  # noqa: BLE001 - a traceback is exactly what is looked for
        return "traceback:\n" + traceback.format_exc(limit=-4)
    err = capsys.readouterr().err
    if rc not in (0, 2):
        return f"exit {rc}: {err[-500:]}"
    if rc == 2:
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        if len(lines) != 1 or not err.startswith("error: ") or "Traceback" in err:
            return f"not one error line: {err[-800:]}"
        # a mutated brat .txt can be detected by the offsets of its .ann: that names the .ann
        named = [bad_file] + ([bad_file.with_suffix(".ann")] if fmt == "brat" else [])
        if not any(str(f) in err for f in named):
            return f"error does not name {bad_file}: {err[:800]}"
        after = dump_tables(db)
        if after != before:
            changed = [t for t in before if before[t] != after.get(t)]
            return f"refused but tables changed: {changed}; {err[:300]}"
        return None
    # accepted: what was stored keeps the invariants, and the project still exports
    con = sqlite3.connect(db)
    try:
        bad = {name: con.execute(sql).fetchall() for name, sql in STORED_INVARIANTS.items()}
    finally:
        con.close()
    bad = {k: v[:3] for k, v in bad.items() if v}
    if bad:
        return f"accepted but stored wrong values: {bad}"
    try:
        rc = cli("--db", str(db), "export", "--format", "jsonl", "--out", str(work / "out.jsonl"))
    except BaseException:  # noqa: BLE001
        return "accepted, then export raised:\n" + traceback.format_exc(limit=-4)
    if rc != 0:
        return f"accepted, then export exit {rc}: {capsys.readouterr().err}"
    return None


# rows an accepted import must never leave behind ('None' is what a null label used to become;
# no fixture has such a label)
STORED_INVARIANTS = {
    "document meta not an object": "SELECT id, meta FROM documents WHERE json_type(meta) "
                                   "IS NOT 'object'",
    "offsets not integers": 'SELECT id, start, "end" FROM spans WHERE typeof(start) != '
                            "'integer' OR typeof(\"end\") != 'integer'",
    "label not a non-empty string": "SELECT id, label FROM spans WHERE typeof(label) != 'text'"
                                    " OR label = '' OR label = 'None'",
    "score not a number": "SELECT id, score FROM spans WHERE typeof(score) NOT IN "
                          "('null', 'integer', 'real')",
    "span meta not an object": "SELECT id, meta FROM spans WHERE meta IS NOT NULL AND "
                               "json_type(meta) IS NOT 'object'",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_inputs_are_refused_by_name_or_accepted(fmt, seeded, tmp_path, capsys):
    template, bases = seeded
    cases = make_cases(fmt, bases, CASES_PER_FORMAT)
    assert len(cases) == CASES_PER_FORMAT
    problems, refusals = [], 0
    for i, case in enumerate(cases):
        why = run_case(case, fmt, template, tmp_path / f"case{i:03d}", capsys)
        if why:
            shown = {k: (v if k != "files" else {n: c[:300] for n, c in v.items()
                                                 if n == case["bad"]})
                     for k, v in case.items()}
            problems.append(f"case {i} ({case['how']}): {why}\n  input: {shown!r}")
        elif (tmp_path / f"case{i:03d}" / "out.jsonl").exists() is False:
            refusals += 1
    assert not problems, f"{len(problems)} of {len(cases)} {fmt} inputs failed:\n" + \
        "\n".join(problems)
    # the fuzzing reaches the refusal paths (not just inputs that still parse)
    assert refusals >= CASES_PER_FORMAT // 6 or fmt == "text", refusals


def test_case_count_covers_every_format(seeded):
    _, bases = seeded
    assert set(bases) == set(FORMATS)
    from annotator.formats import FORMATS as REGISTERED
    assert set(REGISTERED) == set(FORMATS)
    total = sum(len(make_cases(f, bases, CASES_PER_FORMAT)) for f in FORMATS)
    assert total >= 200


def test_mutations_are_reproducible_for_a_seed(seeded):
    _, bases = seeded
    first = make_cases("gliner2", bases, 5)
    assert first == make_cases("gliner2", bases, 5)
    assert any(re.search(rb"[^\x00-\x7f]|null|\[\[", c["files"][c["bad"]]) for c in first)
