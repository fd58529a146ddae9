#!/usr/bin/env bash
# The whole test suite: set up if needed (Mosquitto, .venv), lint, then pytest.
# pytest exits 5 when no test ran; that fails this script like any other failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
