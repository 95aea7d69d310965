"""Fixtures for tests/annotator. Pre-labeling: a long French clinical text, a small label
schema whose prompt fits the tiny models, and a SQLite project holding a few documents."""

from __future__ import annotations

import pytest

FR_SENTENCES = (
    "Le patient de 67 ans est hospitalisé pour une pneumonie du lobe inférieur droit.",
    "Fièvre à 39,2 °C avec frissons ; hémocultures prélevées avant l’antibiothérapie.",
    "Traitement par amoxicilline 1 g trois fois par jour pendant sept jours.",
    "Antécédents : hypertension artérielle, dyslipidémie et diabète de type 2.",
    "L’IRM cérébrale montre une lésion frontale gauche sans œdème périlésionnel.",
    "Le scanner thoracique retrouve un épanchement pleural de faible abondance.",
    "Insuffisance rénale aiguë fonctionnelle, créatininémie à 180 µmol/l.",
    "Metformine 850 mg matin et soir, arrêtée en raison de la fonction rénale.",
    "Douleur thoracique rétrosternale irradiant dans le bras gauche ; troponine élevée.",
    "Échographie cardiaque : fraction d’éjection du ventricule gauche à 45 %.",
    "Œsophagite peptique de grade B à l’endoscopie, sous ésoméprazole 20 mg/j.",
    "La patiente signale une asthénie, des céphalées et des nausées depuis dix jours.",
    "Fréquence cardiaque à 112 battements par minute, saturation à 91 % en air ambiant.",
    "Ponction lombaire : liquide clair, protéinorachie normale, culture stérile.",
    "Mise sous héparine de bas poids moléculaire et bas de contention.",
    "Infection urinaire à Escherichia coli sensible à la ceftriaxone.",
)


def french_medical_text(n_words: int) -> str:
    """Clinical French prose of at least ``n_words`` whitespace words, sentences numbered so
    the text does not repeat exactly, paragraphs separated by blank lines."""
    parts, words, i = [], 0, 0
    while words < n_words:
        s = FR_SENTENCES[i % len(FR_SENTENCES)]
        if i % 7 == 6:
            s = f"J{i // 7 + 1} : {s}\n\n"
        parts.append(s)
        words += len(s.split())
        i += 1
    return " ".join(parts)


@pytest.fixture(scope="session")
def fr_long_text() -> str:
    """About 3,000 words of French clinical text (far more than 512 tokens)."""
    return french_medical_text(3000)


@pytest.fixture
def prelabel_schema():
    """Three FineMed-like labels with short descriptions (the full FineMed descriptions take
    more than 512 positions with the tiny test tokenizers)."""
    from annotator.model import Label, LabelSchema

    return LabelSchema("mini-fr", "1.0", [
        Label("disease", description="maladie ou symptôme"),
        Label("drug", description="médicament"),
        Label("body_part", description="partie du corps"),
    ], language="fr")


@pytest.fixture
def prelabel_db(tmp_path, prelabel_schema, fr_long_text):
    """A SQLite project with the mini schema: 5 short documents and 1 long one.
    Returns the database path (str)."""
    from annotator.model import Document
    from db import Store

    path = str(tmp_path / "prelabel.sqlite")
    docs = [Document(text=s, name=f"court-{i}") for i, s in enumerate(FR_SENTENCES[:5])]
    docs.append(Document(text=fr_long_text, name="long"))
    with Store(path) as store:
        store.set_schema(prelabel_schema)
        store.import_documents(docs)
    return path
