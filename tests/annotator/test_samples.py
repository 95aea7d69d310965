"""The first-run sample project: real documents, imported spans, lexicon proposals only."""

from __future__ import annotations

from annotator.samples import samples_dir, seed_sample_project


def test_seed_imports_samples_and_proposes_with_the_lexicon(tmp_path):
    from db import Store

    with Store(str(tmp_path / "s.sqlite")) as st:
        res = seed_sample_project(st)
        assert res.documents == 19  # 11 QUAERO + 8 notes
        assert st.get_schema().name == "finemed-fr"
        stats = st.stats()
        assert stats["spans_by_source"].get("lexicon", 0) == res.proposals > 0
        # proposals only ever come from the pre-labeler; imported spans are accepted
        for doc in st.iter_documents():
            for sp in doc.spans:
                assert (sp.source, sp.status) in {("import", "accepted"),
                                                  ("lexicon", "proposed")}
                assert doc.text[sp.start:sp.end]
        names = {d.name for d in st.iter_documents(with_spans=False)}
        assert "README" not in names
        assert seed_sample_project(st).documents == 0  # not twice


def test_quaero_attribution_ships_with_the_texts():
    readme = (samples_dir() / "quaero" / "README.txt").read_text(encoding="utf-8")
    assert "GNU Free Documentation License" in readme
    assert "fictional" in (samples_dir() / "README.md").read_text(encoding="utf-8")
