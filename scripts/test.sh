#!/usr/bin/env bash
# Install everything, start PostgreSQL and Redis (Debian packages), then run the whole
# test suite twice: on SQLite (the zero-service default) and on PostgreSQL with Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
eval "$(bash scripts/services.sh)"
export GUANXI_REQUIRE_SERVICES=1   # tests needing PostgreSQL/Redis/Chromium fail instead of skipping
export PYTHONDONTWRITEBYTECODE=1
started=$(date +%s)

echo "=== Test suite on SQLite (in-process jobs, in-memory channel layer) ==="
GUANXI_DATA_DIR="$(mktemp -d)" .venv/bin/pytest -q "$@"

echo "=== Test suite on PostgreSQL (Redis for jobs and real-time where a test asks for it) ==="
GUANXI_DATA_DIR="$(mktemp -d)" DATABASE_URL="$GUANXI_TEST_POSTGRES_URL" .venv/bin/pytest -q "$@"

echo "=== Whole suite took $(( $(date +%s) - started )) s ==="
