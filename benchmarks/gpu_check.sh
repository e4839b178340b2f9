#!/usr/bin/env bash
# On a machine with a real GPU: a short evolution with gpus_per_worker 1 and 0.25, printing
# evaluations per minute and peak GPU memory per actor for each. Needs garay installed
# (make install) and a CUDA build of torch.
#   bash benchmarks/gpu_check.sh [extra garay overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
GARAY=${GARAY:-.venv/bin/garay}
PY=${PY:-.venv/bin/python}
out=$(mktemp -d)
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PY
for share in 1 0.25; do
  "$GARAY" cluster.gpus_per_worker=$share ga.population_size=16 ga.generations=3 ga.num_parents=4 \
    train.epochs=5 progress=false hydra.run.dir="$out/gpw_$share" "$@" > "$out/gpw_$share.log" 2>&1
  python3 - "$out/gpw_$share" "$share" <<'PY'
import json, sys
run, share = sys.argv[1], sys.argv[2]
s = json.load(open(f"{run}/summary.json"))
h = [json.loads(l) for l in open(f"{run}/history.jsonl")]
per_min = 60 * s["evaluations"] / s["wall_seconds"]
mem = [m / 2**20 for m in s.get("worker_peak_memory_bytes", [])]
gpus = sorted({(r["node_id"][:8], tuple(r["gpu_ids"])) for r in h})
print(f"gpus_per_worker={share}: {s['workers']} actors on {gpus}, {s['evaluations']} evaluations, "
      f"{per_min:.1f} evaluations/min, peak GPU memory per actor (MiB): {[round(m) for m in mem]}, "
      f"best val {s['best']['fitness']:.3f}")
PY
done
