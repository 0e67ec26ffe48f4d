#!/bin/bash
# The GPU checks of the gate issue, as one script for a lent GPU machine (see
# ../.library/device): every claim end to end with --device cuda (smoke profile, the
# JSON written after each claim), the same settings on the CPU, verdicts compared; then
# the sweep figures of tools/measure_gate.py on the GPU.  Results land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-build-isolation --no-index --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
run() {  # device seconds
    (cd /tmp && timeout "$2" python3 -m resclaims.cli check --device "$1" --profile smoke --timings \
        --json "$OUT/$1.json") > "$OUT/$1.txt" 2>&1
    echo "$1: rc=$? $(tail -1 "$OUT/$1.txt")"
}
run cuda 210
run cpu 120
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
load = lambda d: {r["claim"]: r for r in json.load(open(f"{out}/{d}.json"))["results"]}
cpu, cuda = load("cpu"), load("cuda")
for claim in sorted(set(cpu) | set(cuda)):
    a, b = cpu.get(claim, {}), cuda.get(claim, {})
    same = a.get("verdict") == b.get("verdict") and a.get("setting") == b.get("setting")
    print(f"{'same' if same else 'DIFF'} {claim}: cpu {a.get('verdict')} ({a.get('seconds', 0):.1f} s) "
          f"cuda {b.get('verdict')} ({b.get('seconds', 0):.1f} s) margins {a.get('margin')} {b.get('margin')}"
          + ("" if b.get("verdict") != "error" else f" -- {b.get('summary')}"))
PY
timeout 100 python3 tools/measure_gate.py --device cuda > "$OUT/gate_cuda.json"; echo "gate rc=$?"
cat "$OUT/gate_cuda.json"
