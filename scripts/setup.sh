#!/usr/bin/env bash
# Sets up a fresh machine for the demo and the tests: Mosquitto, VictoriaMetrics (an
# InfluxDB v2 write API for the sink tests) and PostgreSQL (the cloud store tests) from
# Debian when root, and a virtual environment .venv with the project and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  need_apt+=(mosquitto)
fi
if ! command -v victoria-metrics >/dev/null 2>&1; then
  need_apt+=(victoria-metrics)
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if ! command -v openssl >/dev/null 2>&1; then  # ioc provision tls: the local CA
  need_apt+=(openssl)
fi
if [ ! -x /usr/bin/chromium ]; then  # the IOC page's browser test (headless)
  need_apt+=(chromium)
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then  # verifies the edge agent's unit
  need_apt+=(systemd)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: ${need_apt[*]} not installed and cannot apt-get here;" \
         "the demo will use the embedded broker, the tests need mosquitto" >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv without ensurepip: python3-venv adds it
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: apt-get install python3-venv"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    "$PY" -m venv .venv
  fi
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: pip install -e .[dev]"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
  # pip errors are filtered above: a missing package fails here, by name
  .venv/bin/python -c "import ioc.cli, bytewax, paho.mqtt, msgspec, onnxruntime, cv2, rapidocr_onnxruntime, influxdb_client, playwright"
  touch "$stamp"
fi
