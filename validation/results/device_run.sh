#!/usr/bin/env bash
# One device call: stage (device_setup.sh), run experiments into $OUT/results, which starts as a copy of the
# committed CSVs of that model (finished points are skipped), then copy them back here with
#   cp -r <files_at>/results/<model>/*.csv validation/results/<model>/
# Usage (from the repository root, on the device):
#   bash validation/results/device_run.sh MODEL SECONDS EXPERIMENT [EXPERIMENT ...] [-- EXTRA ARGS]
# SECONDS: no new point starts after it (finished points are saved at once); keep it ~60 s under the call's
# limit. EXTRA ARGS go to `python -m aimc.validation.experiments run` (e.g. --images 2000 --match TEXT).
# CIFAR-10 uses the carried 500-image calibration tensor.
set -uo pipefail
model=$1 seconds=$2; shift 2
names=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do names+=("$1"); shift; done; [ "${1:-}" = "--" ] && shift
source validation/results/device_setup.sh
out=${OUT:-/tmp/out}/results; mkdir -p "$out"
[ -d "$R/validation/results/$model" ] && cp -r "$R/validation/results/$model" "$out/"
extra=(); [ "$model" = resnet50-cifar10 ] && extra+=(--calibration /tmp/shared/data/cifar10-calibration-500.pt)
cd /tmp && timeout $((seconds + 120)) python -m aimc.validation.experiments run "${names[@]}" --model "$model" \
  --device "${AIMC_DEVICE:-cuda}" --batch-size 500 --max-seconds "$seconds" --root "$out" --no-progress \
  "${extra[@]}" "$@" 2>&1 | grep -v "decoding images"
echo "device_run: exit ${PIPESTATUS[0]}; results in $out/$model"
