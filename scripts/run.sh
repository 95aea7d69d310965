#!/usr/bin/env bash
# Set up everything on a fresh machine and open the review desk on the embedded SQLite project
# (created and seeded with sample French medical documents on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
bash scripts/setup.sh
exec .venv/bin/annotator gui "$@"
