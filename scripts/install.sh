#!/usr/bin/env bash
# Create .venv and install Guanxi with its pinned dependencies (and the test tools).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip 'setuptools>=68,<81' wheel
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
