#!/usr/bin/env bash
# The stream beside the peer systems, in one run of ../shared/bench-peers (same load
# generator, same tuned Mosquitto). Results: bench/results/peers/latest.{txt,json}.
#   bench/peers/run.sh                 # full run (~5 min)
#   RUNS=1 N=20000 DURATION=3 bench/peers/run.sh   # smoke
#   PARTITIONS=2 bench/peers/run.sh    # two MQTT partitions (two worker threads)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/bench-peers}"
rm -rf "$ROOT/var/bench"
W="${PARTITIONS:-1}"
export PEERS_TEMPLATE='{"kind":"reading","v":1,"id":"%s","site":"%s","device":"%s","ts":"%s","quantity":"water_level","value":%.2f,"unit":"m"}'
export PEERS_TOPIC='{prefix}/{device}/reading'
export SUT_CMD="cd $ROOT && rm -rf var/bench && exec .venv/bin/python -m ioc.cli stream run --config bench/peers/stream.yaml --mqtt-port {port} -w $W --partitions $W"
export ALERTS_TOPIC='ioc/v1/hue/alerts/+/raised'  # a pager's subscription: raises only
export ALERT_ID_KEY=reading_id
export OUT="${OUT:-$ROOT/bench/results/peers}"
mkdir -p "$OUT"
exec "$PEERS/run_all.sh"
