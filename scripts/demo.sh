#!/usr/bin/env bash
# Install everything, load the demo data into SQLite (first run only) and start Guanxi
# at http://127.0.0.1:8000 — web, API, background jobs and real-time pushes in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/guanxi migrate --noinput
.venv/bin/guanxi demo-data --if-empty
exec .venv/bin/guanxi serve --host "${GUANXI_HOST:-127.0.0.1}" --port "${GUANXI_PORT:-8000}"
