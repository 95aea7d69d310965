"""A GLiNER2 model for ``benchmarks/prelabel.py`` whose span scores mean something.

The MiniLM GLiNER2 of ``tests/tiny_models.py`` has random heads: every span score sits near
0.5, so thousands of spans per document pass the threshold and Python decoding dominates
a benchmark that should measure the model. This trains it for a few dozen steps on French
clinical sentences labelled with the FineMed classes (string matching a small lexicon, full
FineMed descriptions in the prompt, count head pinned), saves it under
``.cache/bench-models/`` and reuses it (a stamp file names the recipe).

Run: python benchmarks/prelabel_model.py [--steps 120]   (prints the model folder)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "annotator"))

OUT = ROOT / ".cache" / "bench-models" / "gliner2-minilm-finemed"
RECIPE = 2

LEXICON = {
    "disease": ["pneumonie", "Fièvre", "frissons", "hypertension artérielle", "dyslipidémie",
                "diabète de type 2", "lésion frontale", "œdème périlésionnel",
                "épanchement pleural", "Insuffisance rénale aiguë", "Douleur thoracique",
                "Œsophagite peptique", "asthénie", "céphalées", "nausées",
                "Infection urinaire"],
    "drug": ["amoxicilline", "Metformine", "ésoméprazole", "héparine de bas poids moléculaire",
             "ceftriaxone", "antibiothérapie"],
    "body_part": ["lobe inférieur droit", "bras gauche", "ventricule gauche", "liquide clair"],
    "medical_procedure": ["hémocultures", "IRM cérébrale", "scanner thoracique",
                          "Échographie cardiaque", "endoscopie", "Ponction lombaire",
                          "culture"],
    "molecular_marker": ["créatininémie", "troponine", "protéinorachie"],
    "living_beings": ["Escherichia coli", "patient", "patiente"],
}


def records(n: int, seed: int = 0) -> list[dict]:
    """``n`` GLiNER2 training records of 2-5 sentences with character-offset entities."""
    from conftest import FR_SENTENCES

    from annotator.schemas import load_schema

    desc = load_schema("finemed-fr").descriptions()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = " ".join(rng.sample(FR_SENTENCES, rng.randint(2, 5)))
        ents: dict[str, list] = {k: [] for k in desc}
        for label, words in LEXICON.items():
            if label not in ents:
                continue
            for w in words:
                i = text.find(w)
                if i >= 0:
                    ents[label].append({"text": w, "start": i, "end": i + len(w)})
        out.append({"input": text, "output": {"entities": ents,
                                              "entity_descriptions": dict(desc)}})
    return out


def build(steps: int = 120, seed: int = 0) -> Path:
    stamp = OUT / ".bench-model.json"
    key = {"recipe": RECIPE, "steps": steps, "seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        return OUT
    from tiny_models import build_gliner2_minilm

    from annotator.training.gliner2_loop import load_base_model, pin_count_head, train_in_thread

    base = build_gliner2_minilm(ROOT / ".cache" / "test-models" / "gliner2-minilm")
    model, _ = load_base_model(str(base))
    pin_count_head(model)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
        it = train_in_thread(model, records(4 * steps, seed), epochs=1, lr=1e-4, task_lr=3e-3,
                             batch_size=4, seed=seed, lora=False, max_steps=steps,
                             work_dir=work)
        while True:
            try:
                st = next(it)
            except StopIteration as stop:
                model = stop.value
                break
            if st.step % 10 == 0:
                print(f"step {st.step}/{st.total} loss {st.loss:.3f} "
                      f"({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    pin_count_head(model)
    model.eval()
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(OUT))
    stamp.write_text(json.dumps(key))
    return OUT


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=120)
    print(build(ap.parse_args().steps))
