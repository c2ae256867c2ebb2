#!/usr/bin/env bash
# Reproduces the results table of docs/detection.md: Vigil (`vigil eval`, the embedded
# plugins through the agent's plugin host) beside scikit-learn on the same events.
#   pip install -r tests/eval/requirements.txt   # once
#   bash tests/eval/run.sh [DATA_DIR]            # default ../shared/data
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Vigil's own table and sample reasons go to stderr; the merged table to stdout.
cargo run --release --locked -q -p vigil -- eval --data "$data" --export "$out/sets" --json "$out/vigil.json" >&2
python3 tests/eval/sklearn_reference.py --sets "$out/sets" --vigil "$out/vigil.json"
