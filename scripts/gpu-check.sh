#!/usr/bin/env bash
# On a machine with a GPU, in under ten minutes: which adapter, are the kernels right, how fast.
#   1. `metaanchor info` on the GPU backend (names the adapter, or says what is missing);
#   2. the webgpu kernel suite: every kernel the smoke trainings of each preset call, webgpu vs cpu,
#      and those trainings' loss curves vs wasm (test/backend/webgpu.test.ts);
#   3. `metaanchor bench --quick --no-torch` on the GPU backend;
#   4. a quick-profile training of one table run (MetaAnchor 3x3, Table 1's first cell) for
#      GPU_CHECK_STEPS steps (default 100), printing its steps/s. On a fresh clone the quick preset
#      first pretrains its trunk once (1500 small steps, cached under data/; on the software adapter
#      that alone takes hours, so this script is for GPUs).
# Output is kept in runs/gpu-check-<time>/ (or GPU_CHECK_OUT).
#
#   bash scripts/gpu-check.sh                         # webgpu (Dawn: Vulkan / Metal / D3D12)
#   METAANCHOR_BACKEND=gpu bash scripts/gpu-check.sh  # tfjs-node-gpu (CUDA 11.2); step 2 still checks webgpu
#   GPU_CHECK_STEPS=300 bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND="${METAANCHOR_BACKEND:-webgpu}"
STEPS="${GPU_CHECK_STEPS:-100}"
OUT="${GPU_CHECK_OUT:-runs/gpu-check-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
export METAANCHOR_BACKEND="$BACKEND"
start=$(date +%s)
stage() { echo; echo "== $1 ($(( $(date +%s) - start )) s)"; }

stage "1/4 info --backend $BACKEND"
# Fails (and stops here) when the backend cannot load: no hardware adapter, no driver / Vulkan ICD.
node bin/metaanchor.js info | tee "$OUT/info.txt"

stage "2/4 webgpu kernel suite vs cpu, smoke trainings vs wasm"
# The suite prefers a hardware adapter; it falls back to the software one only where no GPU is found.
suite=0
timeout 300 node test/run.js test/backend/webgpu.test.ts >"$OUT/kernels.txt" 2>&1 || suite=$?
grep -E '^ *(✔|✖|ℹ (ok|FAIL|adapter|webgpu|[0-9]+ kernels))|^ℹ (pass|fail)' "$OUT/kernels.txt" || true
[ "$suite" -eq 0 ] || echo "gpu-check: the kernel suite FAILED (exit $suite; details in $OUT/kernels.txt); going on to measure speed"

stage "3/4 bench --quick --no-torch"
timeout 300 node bin/metaanchor.js bench --quick --no-torch --out "$OUT/bench.txt" >/dev/null
cat "$OUT/bench.txt"

stage "4/4 quick-profile training, MetaAnchor 3x3, $STEPS steps"
timeout 300 node bin/metaanchor.js train --preset quick --method metaanchor --anchors 3x3 --steps "$STEPS" \
  --eval-images 50 --out "$OUT/train" 2>&1 | tail -n 3
node -e '
const fs = require("fs");
const steps = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const sec = steps.slice(Math.min(5, steps.length - 1)).map((s) => s.sec).sort((a, b) => a - b);
const median = sec[Math.floor(sec.length / 2)];
console.log(`steps/s: ${(1 / median).toFixed(2)} (median step ${(1000 * median).toFixed(0)} ms over ${sec.length} steps after warm-up; batch/size as the quick preset)`);
' "$OUT/train/log.jsonl" | tee "$OUT/steps-per-sec.txt"

stage "done: $OUT"
exit "$suite"
