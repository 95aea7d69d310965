"""Medical NER annotation core: documents, spans, schemas, pre-labelers, LLM silver labels,
formats, training and evaluation. Importing this package loads no heavy dependency
(torch, transformers, gliner2, openai and Qt are imported lazily, when first used)."""

__version__ = "0.1.0"
