"""LLM silver labels: two-pass extract -> review through any OpenAI-compatible endpoint.

Modules: ``prompts`` (versioned templates), ``contract`` (output JSON schema and validation),
``grounding`` (locate returned text in the document), ``client`` (async client with retries and
a JSON-mode probe), ``silver`` (the batch job), ``keys`` (API key lookup), ``serve`` (offline
demo server), ``fake_server`` (fault-injecting test double). Nothing here imports ``openai`` at
module import time.
"""
