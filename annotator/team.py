"""Several annotators on one corpus: balanced assignment, agreement between people, and the
adjudication plan. Pure functions (no database, no Qt); ``db.team_queries`` stores what they
decide and ``annotator/cli/team.py`` and ``ui/team.py`` show it.

Each annotator works in a layer of their own (see ``db.team_queries``): a copy of every
document assigned to them with the machine proposals it had when it was assigned. Their
decisions, and whether they marked the document reviewed, are theirs alone. Agreement is
measured between the accepted spans of two layers on the documents both marked reviewed;
adjudication takes into the gold layer every span all the document's assigned annotators
accepted and leaves the others to a person.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from .errors import AnnotatorError
from .evaluate import evaluate, token_kappa, token_labels, tokenize
from .model import Span

Key = tuple[int, int, str]  # (start, end, label)


def span_key(sp: Span) -> Key:
    return (sp.start, sp.end, sp.label)


# ---------------------------------------------------------------------------- assignment
def check_annotator_name(name: str) -> str:
    """An annotator name as a layer can carry it: not empty, no leading/trailing spaces, no
    ``::`` (the separator of layer project names) and no comma (the CLI's list separator)."""
    if not name or name != name.strip():
        raise AnnotatorError(f"annotator name {name!r}: empty or padded with spaces")
    if "::" in name or "," in name:
        raise AnnotatorError(f"annotator name {name!r}: may not contain '::' or ','")
    return name


def plan_assignment(doc_ids: Sequence[int], annotators: Sequence[str], per_document: int, *,
                    existing: Mapping[int, Iterable[str]] | None = None,
                    seed: int = 42) -> dict[int, list[str]]:
    """New assignments ``{doc id: [annotator, ...]}`` giving every document of ``doc_ids``
    ``per_document`` annotators with a balanced load.

    Documents are taken in a shuffled order (``seed``); each gets, among the annotators not
    on it yet, those with the fewest documents so far (``existing`` assignments count, ties
    broken by a shuffled order of the annotators), so loads differ by at most one when the
    run starts from nothing. A document that has ``per_document`` annotators or more already
    gets none; one with fewer is completed."""
    names = [check_annotator_name(a) for a in annotators]
    if len(set(names)) != len(names):
        raise AnnotatorError(f"--annotators lists a name twice: {', '.join(names)}")
    if per_document < 1:
        raise AnnotatorError(f"--per-document {per_document}: must be at least 1")
    if per_document > len(names):
        raise AnnotatorError(f"--per-document {per_document} is more than the "
                             f"{len(names)} annotators given ({', '.join(names)})")
    existing = {d: set(v) for d, v in (existing or {}).items()}
    load: dict[str, int] = {a: 0 for a in names}
    for who in existing.values():
        for a in who:
            if a in load:
                load[a] += 1
    rng = random.Random(seed)
    order = list(doc_ids)
    rng.shuffle(order)
    tie = {a: i for i, a in enumerate(rng.sample(names, len(names)))}
    out: dict[int, list[str]] = {}
    for d in order:
        have = existing.get(d, set())
        need = per_document - len(have)
        if need <= 0:
            continue
        pool = sorted((a for a in names if a not in have), key=lambda a: (load[a], tie[a]))
        chosen = pool[:need]
        for a in chosen:
            load[a] += 1
        # rotate the tie-break so equal loads do not always favour the same people
        first = chosen[0]
        tie[first] = max(tie.values()) + 1
        out[d] = sorted(chosen)
    return out


# ---------------------------------------------------------------------------- agreement
def fleiss_kappa(items: Sequence[Mapping[str, int]]) -> float | None:
    """Fleiss' kappa over ``items``, each the count of raters per category for one item.

    With the same number of raters on every item this is Fleiss (1971); items rated by a
    different number ``n_i >= 2`` of raters use the usual generalisation
    ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))`` and category shares pooled over all
    ratings. Items with fewer than two ratings are left out; None when none is left or
    every rating falls in one category (kappa is undefined)."""
    rated = [it for it in items if sum(it.values()) >= 2]
    if not rated:
        return None
    total = sum(sum(it.values()) for it in rated)
    share: dict[str, float] = defaultdict(float)
    p_bar = 0.0
    for it in rated:
        n = sum(it.values())
        for cat, c in it.items():
            share[cat] += c
        p_bar += (sum(c * c for c in it.values()) - n) / (n * (n - 1))
    p_bar /= len(rated)
    p_e = sum((v / total) ** 2 for v in share.values())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1 - p_e)


@dataclass
class PairAgreement:
    a: str
    b: str
    documents: int
    strict_f1: float
    partial_f1: float
    kappa: float
    n_a: int
    n_b: int
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "documents": self.documents,
                "strict_f1": self.strict_f1, "partial_f1": self.partial_f1,
                "kappa": self.kappa, "n_a": self.n_a, "n_b": self.n_b,
                "per_label": self.per_label}


@dataclass
class TeamAgreement:
    pairs: list[PairAgreement]
    fleiss_kappa: float | None
    fleiss_documents: int

    def as_dict(self) -> dict[str, Any]:
        return {"pairs": [p.as_dict() for p in self.pairs], "fleiss_kappa": self.fleiss_kappa,
                "fleiss_documents": self.fleiss_documents}

    def table(self) -> str:
        rows = [f"{'a':<14}{'b':<14}{'docs':>6}{'strict F1':>11}{'partial F1':>12}"
                f"{'kappa':>8}{'n_a':>6}{'n_b':>6}"]
        for p in self.pairs:
            rows.append(f"{p.a:<14}{p.b:<14}{p.documents:6d}{p.strict_f1:11.3f}"
                        f"{p.partial_f1:12.3f}{p.kappa:8.3f}{p.n_a:6d}{p.n_b:6d}")
        fk = "-" if self.fleiss_kappa is None else f"{self.fleiss_kappa:.3f}"
        rows.append(f"Fleiss' kappa over the annotators: {fk} "
                    f"({self.fleiss_documents} documents reviewed by two or more)")
        return "\n".join(rows)


def team_agreement(texts: Mapping[Hashable, str],
                   layers: Mapping[str, Mapping[Hashable, Sequence[Span]]],
                   reviewed: Mapping[str, set[Hashable]]) -> TeamAgreement:
    """Agreement between annotators.

    ``layers[name][doc]``: the spans ``name`` accepted on ``doc``; ``reviewed[name]``: the
    documents ``name`` marked reviewed. For each pair, over the documents both reviewed:
    strict and partial span F1 (micro over spans; symmetric), Cohen's kappa on word tokens
    (``annotator.evaluate.tokenize``; a token's category is the label of the span covering
    it, ``O`` outside), and strict F1 per label. Fleiss' kappa pools the tokens of every
    document reviewed by two or more annotators, each annotator who reviewed it a rater."""
    names = sorted(layers)
    pairs = []
    for a, b in combinations(names, 2):
        docs = sorted(reviewed.get(a, set()) & reviewed.get(b, set()), key=str)
        ga = {d: layers[a].get(d, ()) for d in docs}
        gb = {d: layers[b].get(d, ()) for d in docs}
        strict = evaluate(ga, gb, mode="strict", docs=docs)
        partial = evaluate(ga, gb, mode="partial", docs=docs)
        pairs.append(PairAgreement(
            a=a, b=b, documents=len(docs),
            strict_f1=round(strict.micro.f1, 6), partial_f1=round(partial.micro.f1, 6),
            kappa=round(token_kappa({d: texts[d] for d in docs}, ga, gb), 6),
            n_a=sum(len(v) for v in ga.values()), n_b=sum(len(v) for v in gb.values()),
            per_label={lab: {"strict_f1": round(c.f1, 6)}
                       for lab, c in sorted(strict.per_label.items())}))
    items: list[dict[str, int]] = []
    n_docs = 0
    all_docs = sorted({d for s in reviewed.values() for d in s}, key=str)
    for d in all_docs:
        raters = [n for n in names if d in reviewed.get(n, set())]
        if len(raters) < 2:
            continue
        n_docs += 1
        toks = tokenize(texts[d])
        seqs = [token_labels(texts[d], layers[n].get(d, ()), toks) for n in raters]
        for t in range(len(toks)):
            counts: dict[str, int] = defaultdict(int)
            for seq in seqs:
                counts[seq[t]] += 1
            items.append(counts)
    fk = fleiss_kappa(items)
    return TeamAgreement(pairs=pairs, fleiss_kappa=None if fk is None else round(fk, 6),
                         fleiss_documents=n_docs)


# ---------------------------------------------------------------------------- adjudication
@dataclass
class DocAdjudication:
    """What the annotators of one document said: spans all of them accepted (``agreed``),
    spans some but not all accepted (``pending``, with who accepted each)."""

    doc_id: Hashable
    annotators: list[str]
    agreed: list[Key]
    pending: dict[Key, list[str]]
    spans: dict[Key, list[Span]]  # every accepted span of the layers, by key


def adjudication_plan(doc_id: Hashable, layers: Mapping[str, Sequence[Span]]
                      ) -> DocAdjudication:
    """Agreed and pending spans of one document from its annotators' accepted spans
    (``layers[name]``: the spans ``name`` accepted; every assigned annotator reviewed it)."""
    names = sorted(layers)
    by_key: dict[Key, list[Span]] = defaultdict(list)
    who: dict[Key, list[str]] = defaultdict(list)
    for n in names:
        for sp in layers[n]:
            k = span_key(sp)
            if n not in who[k]:
                who[k].append(n)
                by_key[k].append(sp)
    agreed = sorted(k for k, ws in who.items() if len(ws) == len(names))
    pending = {k: ws for k, ws in sorted(who.items()) if len(ws) < len(names)}
    return DocAdjudication(doc_id, names, agreed, pending, dict(by_key))
