"""Span-level evaluation and inter-annotator agreement, as pure functions over span lists.

Inputs are mappings ``doc_key -> sequence of Span`` (one mapping for the gold side, one for
the predicted side); a document missing from one side has no spans there. Nothing here
reads the database: the CLI selects spans from the store and passes them in.

Matching is one-to-one: a gold span is matched by at most one predicted span and the other
way round, so duplicated predictions count as false positives.

* ``strict``: same label and the same fragments (for continuous spans: the same
  ``[start, end)``).
* ``partial``: same label and at least one character in common (any fragment of one
  overlaps any fragment of the other). A maximum one-to-one matching is used, preferring
  larger overlaps when several pairings are possible.

Precision, recall and F1 are 0.0 when their denominator is 0. Micro scores pool the counts
of every label; macro scores average per-label scores over the labels that occur on either
side (or over ``labels`` when given).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from .errors import AnnotatorError
from .model import Span, is_source
from .text import tokens as tokenize  # token-level agreement's tokens (re-exported)

MODES = ("strict", "partial")
OUTSIDE = "O"


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives of one label (or pooled)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return _div(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _div(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _div(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def scores(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


@dataclass
class Report:
    """Evaluation result: per-label counts plus micro and macro scores."""

    mode: str
    per_label: dict[str, Counts]
    macro_labels: list[str]

    @property
    def micro(self) -> Counts:
        total = Counts()
        for c in self.per_label.values():
            total = total + c
        return total

    @property
    def macro(self) -> dict[str, float]:
        labels = self.macro_labels
        if not labels:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        per = [self.per_label.get(lab, Counts()).scores() for lab in labels]
        return {k: sum(s[k] for s in per) / len(per) for k in ("precision", "recall", "f1")}

    def to_dict(self) -> dict:
        """``{"micro": {precision, recall, f1}, "macro": {...}, "per_label": {label: {...}}}``
        plus ``mode`` and raw ``counts`` per label."""
        return {
            "micro": self.micro.scores(),
            "macro": self.macro,
            "per_label": {lab: c.scores() for lab, c in sorted(self.per_label.items())},
            "mode": self.mode,
            "counts": {lab: {"tp": c.tp, "fp": c.fp, "fn": c.fn}
                       for lab, c in sorted(self.per_label.items())},
        }

    def table(self, title: str = "") -> str:
        """A plain-text table: one row per label, then micro and macro rows."""
        rows = [f"{'label':<24}{'P':>7}{'R':>7}{'F1':>7}{'TP':>6}{'FP':>6}{'FN':>6}"]
        for lab, c in sorted(self.per_label.items()):
            rows.append(f"{lab:<24}{c.precision:7.3f}{c.recall:7.3f}{c.f1:7.3f}"
                        f"{c.tp:6d}{c.fp:6d}{c.fn:6d}")
        m = self.micro
        rows.append(f"{'micro':<24}{m.precision:7.3f}{m.recall:7.3f}{m.f1:7.3f}"
                    f"{m.tp:6d}{m.fp:6d}{m.fn:6d}")
        ma = self.macro
        rows.append(f"{'macro':<24}{ma['precision']:7.3f}{ma['recall']:7.3f}{ma['f1']:7.3f}")
        head = [f"{title} ({self.mode})"] if title else [f"({self.mode})"]
        return "\n".join(head + rows)


# ---------------------------------------------------------------------------- matching
def _overlap(a: Span, b: Span) -> int:
    """Characters shared by two spans, fragment by fragment."""
    return sum(max(0, min(ae, be) - max(as_, bs)) for as_, ae in a.parts for bs, be in b.parts)


def match_spans(gold: Sequence[Span], pred: Sequence[Span], mode: str = "strict"
                ) -> list[tuple[int, int]]:
    """One-to-one matching between ``gold`` and ``pred``; returns ``(gold_i, pred_j)`` pairs.

    The matching has maximum size (Kuhn's augmenting paths); candidates are tried in order of
    decreasing overlap so that, among maximum matchings, larger overlaps are preferred.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    cand: list[list[int]] = []
    for g in gold:
        if mode == "strict":
            row = [j for j, p in enumerate(pred) if p.key() == g.key()]
        else:
            scored = [(_overlap(g, p), j) for j, p in enumerate(pred) if p.label == g.label]
            row = [j for ov, j in sorted(scored, key=lambda t: (-t[0], t[1])) if ov > 0]
        cand.append(row)
    owner: dict[int, int] = {}  # pred index -> gold index

    def augment(i: int, seen: set[int]) -> bool:
        for j in cand[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(gold)):
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


def count_document(gold: Sequence[Span], pred: Sequence[Span], mode: str = "strict"
                   ) -> dict[str, Counts]:
    """Per-label TP/FP/FN for one document."""
    pairs = match_spans(gold, pred, mode)
    matched_g = {i for i, _ in pairs}
    matched_p = {j for _, j in pairs}
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    for i, _ in pairs:
        tp[gold[i].label] += 1
    for i, g in enumerate(gold):
        if i not in matched_g:
            fn[g.label] += 1
    for j, p in enumerate(pred):
        if j not in matched_p:
            fp[p.label] += 1
    labels = set(tp) | set(fp) | set(fn)
    return {lab: Counts(tp[lab], fp[lab], fn[lab]) for lab in labels}


def evaluate(
    gold: Mapping[Hashable, Sequence[Span]],
    pred: Mapping[Hashable, Sequence[Span]],
    *,
    mode: str = "strict",
    labels: Iterable[str] | None = None,
    docs: Iterable[Hashable] | None = None,
) -> Report:
    """Score ``pred`` against ``gold`` over ``docs`` (default: every key of either side).

    ``labels`` restricts scoring to those labels (spans with other labels are ignored) and
    fixes the macro average to them.
    """
    keep = set(labels) if labels is not None else None
    keys = list(docs) if docs is not None else sorted(set(gold) | set(pred), key=str)
    per_label: dict[str, Counts] = defaultdict(Counts)
    for k in keys:
        g = [s for s in gold.get(k, ()) if keep is None or s.label in keep]
        p = [s for s in pred.get(k, ()) if keep is None or s.label in keep]
        for lab, c in count_document(g, p, mode).items():
            per_label[lab] = per_label[lab] + c
    if keep is not None:
        for lab in keep:
            per_label.setdefault(lab, Counts())
    macro = sorted(keep) if keep is not None else sorted(per_label)
    return Report(mode=mode, per_label=dict(per_label), macro_labels=macro)


def regressions(base: Report, new: Report, max_regression: float,
                metric: str = "f1") -> dict[str, tuple[float, float]]:
    """Labels whose ``metric`` drops by more than ``max_regression`` (absolute) from ``base``
    to ``new``: ``{label: (base_value, new_value)}``. Labels absent from ``base`` never
    regress."""
    out = {}
    for lab, c in base.per_label.items():
        before = c.scores()[metric]
        after = new.per_label.get(lab, Counts()).scores()[metric]
        if before - after > max_regression + 1e-12:
            out[lab] = (before, after)
    return out


# ---------------------------------------------------------------------------- agreement
def token_labels(text: str, spans: Sequence[Span],
                 tokens: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """One label per token: the label of a span overlapping it, ``"O"`` otherwise.

    When several spans overlap a token (nested or overlapping annotation), the longest span
    wins, then the earliest, then the label in alphabetical order.
    """
    tokens = tokenize(text) if tokens is None else tokens
    ordered = sorted(spans, key=lambda s: (-(s.end - s.start), s.start, s.label))
    out = []
    for ts, te in tokens:
        lab = OUTSIDE
        for s in ordered:
            if any(min(e, te) > max(b, ts) for b, e in s.parts):
                lab = s.label
                break
        out.append(lab)
    return out


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa between two equally long label sequences.

    ``kappa = (p_o - p_e) / (1 - p_e)``; when ``p_e == 1`` (both raters always use one and
    the same label) it is 1.0 if they agree everywhere, else 0.0. Empty input gives 1.0.
    """
    if len(a) != len(b):
        raise ValueError(f"sequences differ in length: {len(a)} != {len(b)}")
    n = len(a)
    if n == 0:
        return 1.0
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca: dict[str, int] = defaultdict(int)
    cb: dict[str, int] = defaultdict(int)
    for x in a:
        ca[x] += 1
    for y in b:
        cb[y] += 1
    p_e = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if p_e >= 1.0:
        return 1.0 if p_o == 1.0 else 0.0
    return (p_o - p_e) / (1 - p_e)


def token_kappa(texts: Mapping[Hashable, str], a: Mapping[Hashable, Sequence[Span]],
                b: Mapping[Hashable, Sequence[Span]]) -> float:
    """Cohen's kappa over the tokens of every document in ``texts`` (pooled)."""
    la: list[str] = []
    lb: list[str] = []
    for k, text in texts.items():
        toks = tokenize(text)
        la.extend(token_labels(text, a.get(k, ()), toks))
        lb.extend(token_labels(text, b.get(k, ()), toks))
    return cohen_kappa(la, lb)


def agreement(texts: Mapping[Hashable, str],
              sets: Mapping[str, Mapping[Hashable, Sequence[Span]]],
              *, mode: str = "strict") -> dict[tuple[str, str], dict[str, float]]:
    """Pairwise agreement between annotation sets (sources or annotators).

    Returns ``{(a, b): {"f1": micro span F1, "kappa": token kappa, "n_a", "n_b"}}`` for
    every unordered pair in the order given. Span F1 is symmetric in ``a`` and ``b``.
    """
    out = {}
    docs = list(texts)
    for x, y in combinations(list(sets), 2):
        rep = evaluate(sets[x], sets[y], mode=mode, docs=docs)
        out[(x, y)] = {
            "f1": rep.micro.f1,
            "kappa": token_kappa(texts, sets[x], sets[y]),
            "n_a": sum(len(sets[x].get(k, ())) for k in docs),
            "n_b": sum(len(sets[y].get(k, ())) for k in docs),
        }
    return out


def agreement_table(result: Mapping[tuple[str, str], Mapping[str, float]]) -> str:
    rows = [f"{'a':<16}{'b':<16}{'span F1':>9}{'kappa':>8}{'n_a':>7}{'n_b':>7}"]
    for (x, y), r in result.items():
        rows.append(f"{x:<16}{y:<16}{r['f1']:9.3f}{r['kappa']:8.3f}{r['n_a']:7d}{r['n_b']:7d}")
    return "\n".join(rows)


# ---------------------------------------------------------------------------- plot
def plot_per_label(reports: Mapping[str, Report], path: str, *, metric: str = "f1",
                   title: str = "") -> str:
    """Bar chart of ``metric`` per label, one bar group per label and one bar per report
    (e.g. ``{"base": r0, "trained": r1}``), saved to ``path`` (PNG) with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    labels = sorted({lab for r in reports.values() for lab in r.per_label})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) * max(1, len(reports))), 3.5))
    width = 0.8 / max(1, len(reports))
    for n, (name, rep) in enumerate(reports.items()):
        vals = [rep.per_label.get(lab, Counts()).scores()[metric] for lab in labels]
        xs = [i + n * width for i in range(len(labels))]
        ax.bar(xs, vals, width=width, label=name)
    ax.set_xticks([i + width * (len(reports) - 1) / 2 for i in range(len(labels))])
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per label")
    if len(reports) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- selection
GOLD = "gold"


def select_spans(spans: Iterable[Span], who: str) -> list[Span]:
    """The non-rejected spans of ``who``: a span source (``import``, ``human``, ``gliner2``,
    ``llm_pass2``, ...) or else an annotator name; ``"gold"`` (:data:`GOLD`) is the accepted
    spans of any source (what people decided)."""
    if who == GOLD:
        return [s for s in spans if s.status == "accepted"]
    if is_source(who):
        return [s for s in spans if s.source == who and s.status != "rejected"]
    return [s for s in spans if s.annotator == who and s.status != "rejected"]


# ---------------------------------------------------------------------------- refusals
class NothingToEvaluate(AnnotatorError):
    """One side of an evaluation holds no span on the selected documents."""


def check_sides(gold: Mapping[Hashable, Sequence[Span]], pred: Mapping[Hashable, Sequence[Span]],
                *, gold_name: str, pred_name: str, where: str,
                present: Mapping[str, int] | None = None) -> None:
    """Refuse (``NothingToEvaluate``) when the gold or the predicted side has no span on the
    selected documents: the scores would be zeros that say nothing. ``where`` names the
    selection ("the 29 test documents"); ``present`` counts what is there by source."""
    for side, name, spans in (("gold", gold_name, gold), ("pred", pred_name, pred)):
        if not any(spans.values()):
            there = ", ".join(f"{k} {v}" for k, v in (present or {}).items() if v)
            raise NothingToEvaluate(
                f"--{side} {name}: no span on {where}; nothing to evaluate"
                + (f" (non-rejected spans there by source: {there})" if there
                   else " (no span there at all)"))


@dataclass(frozen=True)
class Unproposable:
    """Gold spans the predicted source could not propose by construction."""

    spans: int
    documents: int
    gold_total: int

    def message(self, gold_name: str, pred_name: str) -> str:
        return (f"{self.spans} of {self.gold_total} --gold {gold_name} spans (on "
                f"{self.documents} document{'s' if self.documents != 1 else ''}) were already "
                f"accepted when {pred_name} pre-labeled their document, and pre-label never "
                f"proposes a label and span already decided: {pred_name} cannot match them, "
                "so its recall here is not measured (pre-label a project where the gold is "
                "not accepted yet: import it with --as-proposed, or into another --project)")


def unproposable_gold(docs: Iterable[Any], gold: Mapping[Hashable, Sequence[Span]],
                      pred_name: str, runs: Mapping[Hashable, Mapping[str, Any]]
                      ) -> Unproposable:
    """Count the gold spans decided before ``pred_name``'s last run on their document, when
    that run skips decided (label, span) pairs (``annotator.runs``; pre-label does, the
    lexicon most visibly: it is made of accepted strings). ``docs`` have ``id`` and
    ``spans``; ``runs`` is ``annotator.runs.source_runs`` of them."""
    from .runs import not_asked

    n = n_docs = total = 0
    for doc in docs:
        g = gold.get(doc.id, ())
        total += len(g)
        blind = {id(sp) for sp in not_asked((runs.get(doc.id) or {}).get(pred_name),
                                            doc.spans, pred_name)}
        hit = sum(1 for sp in g if id(sp) in blind)
        n += hit
        n_docs += bool(hit)
    return Unproposable(n, n_docs, total)
