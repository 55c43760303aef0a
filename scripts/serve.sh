#!/usr/bin/env bash
# Set up and start the API server on the embedded SQLite default (./hawiya-data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hawiya serve "$@"
