#!/usr/bin/env bash
# The GPU check of the batched engine (issue 12): at most ~8 minutes on one GPU.
#
#   benchmarks/device_check.sh [OUTPUT_DIR]        # default: runs/device_check
#   DEVICE_CHECK_TINY=1 benchmarks/device_check.sh # tiny CPU mode (tested in the suite): the
#                                                  # conv4 timing only, 4 filters, meta-batch 2,
#                                                  # float32 only
#
# Writes the suite's JSON (and pictures) to OUTPUT_DIR:
#   throughput.json      two-digit `features` and `original` episodes/s at batch 32/128/512
#                        (needs MNIST: L2L_DATA_DIR; skipped with a message without it);
#   gradient_speed.json  conv4 MAML (and ANIL) s/meta-update at meta-batch 32, XLA off/on,
#                        float32 and mixed_float16, batched vs pfor, and the plain step.
# Then prints the batched-vs-pfor speedup (target on a GPU: >= 5x at meta-batch 32).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/device_check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export MPLBACKEND=Agg
if [ "${DEVICE_CHECK_TINY:-0}" = "1" ]; then
    MODE=(--quick)
    SPEED=(-o methods=maml -o meta_batch=2 -o filters=4 -o repeats=1 -o pfor=false
           -o mixed_precision=false)
else
    MODE=()
    THROUGHPUT=(-o batch_sizes=32,128,512 -o kinds=features,original -o seconds=1.0
                -o repeats=3 -o train_steps=10)
    SPEED=(-o methods=maml,anil -o meta_batch=32 -o filters=64 -o repeats=10
           -o mixed_precision=true)
fi
python - <<'PY'
import tensorflow as tf
print("device check on:", tf.config.list_physical_devices("GPU") or "CPU only")
PY
if [ "${DEVICE_CHECK_TINY:-0}" = "1" ]; then
    echo "throughput skipped in tiny mode (the suite tests 'throughput --quick' on its own)"
elif python -c "from l2l.datasets import load_mnist; load_mnist(download=False)" 2>/dev/null; then
    python -m benchmarks run throughput "${MODE[@]}" --output "$OUT" "${THROUGHPUT[@]}"
else
    echo "throughput skipped: MNIST not found (set L2L_DATA_DIR)"
fi
python -m benchmarks run gradient_speed "${MODE[@]}" --output "$OUT" "${SPEED[@]}"
python - "$OUT/gradient_speed.json" <<'PY'
import json, sys
from benchmarks.gradient_speed import speedups, summarize
result = json.load(open(sys.argv[1]))
print(summarize(result))
print("pfor / batched speedup (XLA off, float32):", speedups(result["rows"]))
PY
