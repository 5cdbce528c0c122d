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

# Unit and page tests run on two processes (pytest-xdist, one test database each); the
# browser tests run after them in one process: they drive real servers and one Chromium.
# Every part runs even when an earlier one failed, so one CI run shows every failure; any
# non-zero pytest exit (including 5, "no tests collected") fails the whole run.
failed=0
# Each part is also bounded as a whole: past its limit pytest gets SIGINT, prints what failed
# so far and the run goes on (a single hung test already fails after 300 s, see pyproject).
bounded() { timeout --signal=INT --kill-after=60 1800 .venv/bin/pytest -q "$@"; }
suite() {
    if [ "$#" -gt 0 ]; then
        bounded "$@" || failed=1
    else
        bounded -n 2 --dist loadfile -m "not e2e" || failed=1
        bounded -m e2e || failed=1
    fi
}

echo "=== Test suite on SQLite (in-process jobs, in-memory channel layer) ==="
GUANXI_DATA_DIR="$(mktemp -d)" suite "$@"

echo "=== Test suite on PostgreSQL (Redis for jobs and real-time where a test asks for it) ==="
GUANXI_DATA_DIR="$(mktemp -d)" DATABASE_URL="$GUANXI_TEST_POSTGRES_URL" suite "$@"

echo "=== Whole suite took $(( $(date +%s) - started )) s ==="
exit "$failed"
