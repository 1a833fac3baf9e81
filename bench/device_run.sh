#!/usr/bin/env bash
# One GPU session's checks, as one prepared script (docs/BENCHMARKS.md, "GPU"):
#   1. the paper-scale cross-validation of both types with fixed hyperparameters (`rrlfeh train`,
#      JAX, the 5 folds of each type in parallel worker processes, both types at once);
#   2. `rrlfeh predict`'s engine (bench/predict.py) over simulated stars with the models of step 1.
#
#   bash bench/device_run.sh DATA OUT [EPOCHS] [PREDICT_STARS] [TRAIN_LIMIT_S]
#
# DATA holds rrab.npz, rrc.npz (preprocessed, `preprocess.n_points_*` points), truth.parquet and
# hp_rrab.json / hp_rrc.json (best_hparams.json of a tune run); OUT receives the metrics, logs and
# the predict JSON. Python packages the machine lacks travel as wheels in .whl/ (installed first if
# present). On a CPU the same script runs with a tiny setting (the test: EPOCHS 2, a few stars).
set -uo pipefail
DATA=${1:?DATA folder}; OUT=${2:?OUT folder}; EPOCHS=${3:-200}; STARS=${4:-50000}; LIMIT=${5:-330}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
WORK=$(mktemp -d)
if compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "$ROOT"/.whl/*.whl || exit 1
  export PYTHONPATH="$WORK/site:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export MLFLOW_DISABLE_TELEMETRY=true MLFLOW_TRACKING_URI="sqlite:///$WORK/mlflow.db"
export MLFLOW_ARTIFACT_ROOT="file://$WORK/artifacts"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no GPU") > "$OUT/machine.txt"
nproc >> "$OUT/machine.txt"

# the project's params with the device's settings: all folds of a type at once, EPOCHS per fold
python3 - "$ROOT/params.yaml" "$WORK/params.yaml" "$EPOCHS" <<'EOF'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
p["train"].update(n_jobs=p["train"]["k_folds"], epochs=int(sys.argv[3]))
yaml.safe_dump(p, open(sys.argv[2], "w"))
EOF

# create the store's tables once: two stages migrating a new SQLite file at once collide
python3 -c "import mlflow; mlflow.MlflowClient().search_experiments()" > /dev/null 2>&1

start=$(date +%s)
for t in rrab rrc; do
  timeout "$LIMIT" python3 -m rrlfeh.cli train "$t" --params "$WORK/params.yaml" --data "$DATA/$t.npz" \
    --hparams "$DATA/hp_$t.json" --out "$WORK/models/$t" --metrics "$OUT/train_$t.json" \
    --plots "$WORK/plots/$t" --truth "$DATA/truth.parquet" > "$OUT/train_$t.log" 2>&1 &
done
wait
echo "{\"train_wall_s\": $(( $(date +%s) - start )), \"epochs\": $EPOCHS}" > "$OUT/train_wall.json"
cat "$OUT/train_wall.json"
grep -h "fold_\|error" "$OUT"/train_*.log | head -20

if [ -f "$WORK/models/rrab/manifest.json" ] && [ -f "$WORK/models/rrc/manifest.json" ]; then
  (cd "$ROOT" && python3 -m bench.predict --models-dir "$WORK/models" --n-stars "$STARS" --n-jobs 4 \
    --workdir "$WORK/predict") > "$OUT/predict.json" 2> "$OUT/predict.log"
  cat "$OUT/predict.json"
fi
