# Stage the package and the carried model/data on the GPU machine; `source` it from the repository root.
#   source validation/results/device_setup.sh     (then run commands from /tmp, see README.md)
# The package goes on PYTHONPATH without installing (aimc/ plus links to its subpackages); models travel
# packed by `python -m aimc.validation.carry pack` in .carry/<set>/ (ignored by git), data zips beside them.
R=$PWD
mkdir -p /tmp/shared/models /tmp/shared/data
# AIMC_STAGED=1: the package is staged already (two device_run.sh at once must not re-copy under each other)
[ "${AIMC_STAGED:-0}" = 1 ] || { rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r aimc /tmp/pkg/aimc; }
for d in validation montecarlo theory figures; do ln -sfn "$R/$d" "/tmp/pkg/aimc/$d"; done
export AIMC_SHARED=/tmp/shared PYTHONPATH=/tmp/pkg PYTHONUNBUFFERED=1
for f in .carry/*/*.xzs; do
  [ -e "$f" ] || continue
  [ -e "/tmp/shared/models/$(basename "${f%.xzs}")" ] && continue  # staged by an earlier call on this machine
  (cd /tmp && python -m aimc.validation.carry unpack "$R/$f" "/tmp/shared/models/$(basename "${f%.xzs}")")
done
for f in .carry/*/*.zip .carry/*/*.pt; do [ -e "$f" ] && cp "$f" /tmp/shared/data/; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
