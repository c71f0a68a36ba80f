#!/usr/bin/env bash
# The one device call prepared for the next GPU session (models/README.md, "A wider generator"):
# widen the shipped generator without changing its output, then train it for a time budget.
#
#   run: OUT=$OUT MINUTES=8.4 bash tools/gpu_wide_run.sh      (carry [".pack"])
#
# Needs the data pack made here first: python tools/train_generic_refiner.py --export-pack .pack
# Writes $OUT/refiner_generic.pt (checkpointed every 1000 steps, so a cut-off run leaves weights),
# $OUT/train.log.jsonl (per-step losses) and $OUT/train.out. Then, on the CPU machine:
#   python benchmarks/bench_refine.py --weights OUT/refiner_generic.pt --finetune-steps 150
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder to write into}"
MINUTES=${MINUTES:-8.4}
DEVICE=${DEVICE:-cuda}  # (cpu: to try the script here)
PY=${PY:-python3}
if [ -z "$(ls -A .pack 2>/dev/null)" ]; then
  echo "no data pack in .pack: make it with tools/train_generic_refiner.py --export-pack .pack" >&2
  exit 2
fi
"$PY" tools/widen_refiner.py --input models/refiner_generic.pt --channels 16 48 96 192 384 \
  --output "$OUT/refiner_generic.pt"
"$PY" tools/train_generic_refiner.py --config models/refiner_wide.json --data-pack .pack \
  --output "$OUT/refiner_generic.pt" --device "$DEVICE" --workers 14 --plan-minutes "$MINUTES" \
  --max-minutes "$("$PY" -c "print($MINUTES + 0.5)")" --checkpoint-every 1000 \
  --log "$OUT/train.log.jsonl" 2>&1 | tee "$OUT/train.out"
