#!/usr/bin/env bash
# One device call: stage (device_setup.sh), run experiments (each resumes from its committed CSV: finished
# points are skipped), bring their CSVs back in $OUT/results/<model>/, then copy them back here with
#   cp -r <files_at>/results/<model>/*.csv validation/results/<model>/
# Usage (from the repository root, on the device):
#   [AIMC_PARALLEL=1] bash validation/results/device_run.sh MODEL SECONDS GROUP [GROUP ...] [-- EXTRA ARGS]
# GROUP: EXPERIMENT[+EXPERIMENT...][:MATCH][@IMAGES], the experiments run one after the other in one process,
# only their points whose label contains MATCH, on IMAGES test images (default all).
# SECONDS: no new point starts after it (finished points are saved at once), and each process is stopped
# at SECONDS + 60; keep SECONDS + 60 + about 20 s of staging under the call's limit. EXTRA ARGS go to every `python -m aimc.validation.experiments run` (e.g. --chips 5).
# AIMC_PARALLEL=1 runs each group in its own process, all at once on the one GPU (rows are added under a
# folder lock, so groups may share an experiment with disjoint MATCHes); this overlaps one process's
# host-side work with another's kernels.
# CIFAR-10 uses the carried 500-image calibration tensor.
set -uo pipefail
model=$1 seconds=$2; shift 2
groups=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do groups+=("$1"); shift; done; [ "${1:-}" = "--" ] && shift
names=($(for g in "${groups[@]}"; do g=${g%@*}; g=${g%%:*}; tr '+' '\n' <<<"$g"; done | sort -u))
source validation/results/device_setup.sh
# Points are written to /tmp/results (kept while the machine stays warm, so a later call resumes from it);
# only the named experiments' CSVs go to $OUT, since a call brings back at most 8 files.
work=/tmp/results; out=${OUT:-/tmp/out}/results; mkdir -p "$work/$model" "$out/$model"
for name in "${names[@]}"; do
  [ -e "$work/$model/$name.csv" ] || [ ! -e "$R/validation/results/$model/$name.csv" ] \
    || cp "$R/validation/results/$model/$name.csv" "$work/$model/"
done
extra=(); [ "$model" = resnet50-cifar10 ] && extra+=(--calibration /tmp/shared/data/cifar10-calibration-500.pt)
run() {  # run GROUP
  local g=$1 opts=()
  [[ $g == *@* ]] && { opts+=(--images "${g##*@}"); g=${g%@*}; }
  [[ $g == *:* ]] && { opts+=(--match "${g#*:}"); g=${g%%:*}; }
  (cd /tmp && timeout $((seconds + 60)) python -m aimc.validation.experiments run ${g//+/ } --model "$model" \
    --device "${AIMC_DEVICE:-cuda}" --batch-size 500 --max-seconds "$seconds" --root "$work" --no-progress \
    "${opts[@]}" "${extra[@]}" "${rest[@]}" 2>&1 | grep --line-buffered -v "decoding images")
}
sync_out() {  # copy the CSVs to $OUT, each atomically: a call cut off at its limit still brings them back
  for name in "${names[@]}"; do
    [ -e "$work/$model/$name.csv" ] && cp "$work/$model/$name.csv" "$out/$model/$name.tmp" \
      && mv "$out/$model/$name.tmp" "$out/$model/$name.csv"
  done
}
(while sleep 15; do sync_out; done) & syncer=$!
rest=("$@"); status=0
if [ "${AIMC_PARALLEL:-0}" = 1 ]; then
  pids=()
  for g in "${groups[@]}"; do run "$g" | sed -u "s/^/[$g] /" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
else
  for g in "${groups[@]}"; do run "$g" || status=$?; done
fi
kill $syncer 2>/dev/null; wait $syncer 2>/dev/null; sync_out
echo "device_run: exit $status; results in $out/$model: $(ls "$out/$model" | tr '\n' ' ')"
