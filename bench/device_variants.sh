#!/usr/bin/env bash
# Simulator variants on a GPU (docs/REAL_STARS.md, "Simulator variants"): the RRab cross-validation
# of several prepared datasets at once, each with its own params, the fold models back as one tgz to
# be scored on real stars here (python -m bench.real_stars --models-dir <variant>).
#
#   bash bench/device_variants.sh DATA OUT [EPOCHS] [LIMIT_S]
#
# DATA/<variant>/ holds rrab.npz (from `rrlfeh preprocess`), params.yaml and hp_rrab.json. Python
# packages the machine lacks travel as wheels in WHEELS (default .whl/).
set -uo pipefail
DATA=${1:?DATA folder}; OUT=${2:?OUT folder}; EPOCHS=${3:-200}; LIMIT=${4:-420}
ROOT=$(cd "$(dirname "$0")/.." && pwd); WHEELS=${WHEELS:-$ROOT/.whl}
mkdir -p "$OUT"; WORK=$(mktemp -d)
if compgen -G "$WHEELS/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "$WHEELS"/*.whl || exit 1
  export PYTHONPATH="$WORK/site:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export MLFLOW_DISABLE_TELEMETRY=true MLFLOW_TRACKING_URI="sqlite:///$WORK/mlflow.db"
(nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no GPU"; nproc) > "$OUT/machine.txt"
python3 -c "import mlflow; mlflow.MlflowClient().search_experiments()" > /dev/null 2>&1
start=$(date +%s)
mkdir -p "$WORK/res"
for d in "$DATA"/*/; do
  v=$(basename "$d")
  python3 - "$d/params.yaml" "$WORK/$v.yaml" "$EPOCHS" <<'PY'
import sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
p["train"].update(n_jobs=p["train"]["k_folds"], epochs=int(sys.argv[3]))
yaml.safe_dump(p, open(sys.argv[2], "w"))
PY
  timeout "$LIMIT" python3 -m rrlfeh.cli train rrab --params "$WORK/$v.yaml" --data "$d/rrab.npz" \
    --hparams "$d/hp_rrab.json" --out "$WORK/res/$v/rrab" --metrics "$WORK/res/$v/train_rrab.json" \
    --plots "$WORK/plots/$v" > "$WORK/res/$v.log" 2>&1 &
done
wait
echo "{\"train_wall_s\": $(( $(date +%s) - start )), \"epochs\": $EPOCHS}" | tee "$OUT/wall.json"
# one file back: the fold models, metrics and logs of every variant (the machine returns few files)
tar czf "$OUT/results.tgz" -C "$WORK/res" .
tail -n 2 "$WORK"/res/*.log
