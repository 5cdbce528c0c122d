#!/usr/bin/env bash
# Install (from Debian packages) and start the services the test suite uses:
# PostgreSQL on 127.0.0.1:55432, Redis on 127.0.0.1:56379, and Chromium for browser tests.
# Safe to run twice; prints the environment variables to export.
set -euo pipefail

need_apt=()
command -v initdb >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} from Debian packages…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_apt[@]}" >&2
fi

PG_BIN=""
if ! command -v initdb >/dev/null 2>&1; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/"
fi
PG_PORT="${GUANXI_TEST_PG_PORT:-55432}"
REDIS_PORT="${GUANXI_TEST_REDIS_PORT:-56379}"

if ! (echo > "/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
  PG_DIR="$(mktemp -d /tmp/guanxi-pg.XXXXXX)"
  chown postgres:postgres "$PG_DIR"
  runuser -u postgres -- "${PG_BIN}initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  runuser -u postgres -- "${PG_BIN}pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
fi

if ! (echo > "/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
fi

echo "export GUANXI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/guanxi"
echo "export GUANXI_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
