#!/usr/bin/env bash
# The main job: set up if needed, then run the whole city simulated end to end.
# Extra arguments go to `ioc demo` (e.g. --duration 60, --speed 3600, --broker embedded).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ioc demo "$@"
