"""Pre-labeling: models and a lexicon propose spans that a person then reviews.

Backends share one interface (:class:`~annotator.prelabel.base.Prelabeler`); heavy libraries
(torch, transformers, gliner2) are imported only when a backend is built.
"""

from .base import DEFAULT_GLINER2_MODEL, DocPrediction, Prelabeler

__all__ = ["DEFAULT_GLINER2_MODEL", "DocPrediction", "Prelabeler"]
