#!/usr/bin/env bash
# Times `make synth` from a warm build (Go build cache and node_modules in
# place, Lambda binary up to date): the main job's wall time.
# Usage: bench/synth.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
make -s synth >/dev/null   # warm: build cache, node_modules, Lambda binary
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: make synth (config/dev.json), $runs runs"
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  make -s synth >/dev/null
  end=$(date +%s.%N)
  awk -v i="$i" -v s="$start" -v e="$end" 'BEGIN { printf "run %d: %.2f s\n", i, e - s }'
done
