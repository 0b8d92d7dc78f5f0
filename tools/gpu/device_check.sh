#!/usr/bin/env bash
# The GPU checks of issue #8 in one prepared script, for a lent GPU machine (see README.md,
# "Running the book on a GPU"). Run from the repository root:
#
#   bash tools/gpu/device_check.sh [STEP ...]      # default: env data tests bench parity train nbval
#
# Steps (each has its own time limit; a failed or timed-out step does not stop the others):
#   env     nvidia-smi, Python/torch/CUDA versions
#   data    the synthetic benchmark (both splits), checked against device_carry/synthetic.sha256
#   tests   the library's CUDA tests (sync count per frame, CPU/CUDA parity, ...)
#   alltests  the whole library suite with CUDA visible (slower; not in the default list)
#   bench   python -m rankatt_lib.bench --device cuda over every test sequence: fp32 (rankatt,
#           backbone, CREST; the OpenCV baselines too where OpenCV has its contrib modules), the
#           fast setting (bf16 backbone, channels_last) and the fast setting compiled
#           (torch.compile mode $COMPILE, default reduce-overhead = Inductor + CUDA graphs)
#   parity  the tracker over the whole test split on CUDA, fp32, fast and fast + compiled; compared
#           with the CPU trajectories committed under results/ (data_scripts/compare_runs.py)
#   train   data_scripts/train_ranking.py --device cuda with the shipped checkpoint's settings,
#           then the tracker with that checkpoint over the test split
#   nbval   every chapter executed on the GPU and checked against its committed (CPU) outputs by the
#           same rule as on any CPU: cells marked `# approx-output rtol=...: why` within their
#           stated tolerance, every other cell exactly (book/conftest.py, tools/nbval_approx.py;
#           chapters in parallel with pytest-xdist where it is installed); failures are sorted
#           into "OpenCV contrib missing" (the machine's OpenCV lacks CSRT/KCF/MOSSE) and the rest
#
# Everything it measures lands in $OUT (the device tool brings that folder back; at most 8 files):
#   summary.txt  log.txt (env.txt's content included)  bench_cuda_fp32.json  bench_cuda_fast.json
#   bench_cuda_compiled.json  parity.json  nbval.log  artifacts.tar.gz (trajectories, training
#   curves, nbval's junit report and logs; rebuilt after each step)
#
# Device time is short (15 minutes a session, machine start included): run it as two calls on the
# warm machine, the measurements first:
#   bash tools/gpu/device_check.sh env data bench parity tests
#   bash tools/gpu/device_check.sh train nbval
#
# SMALL=1 makes every step tiny (2 sequences, 5 frames, 1 epoch, one chapter): a rehearsal of the
# script itself, e.g. on the CPU (DEVICE=cpu SMALL=1 bash tools/gpu/device_check.sh env bench);
# SEQS=a,b picks the test sequences that parity and train track (default: all, or 2 when SMALL).
set -uo pipefail

OUT=${OUT:-/tmp/rankatt_gpu_out}
DEVICE=${DEVICE:-cuda}
SMALL=${SMALL:-0}
PY=${PY:-python3}
COMPILE=${COMPILE:-$([ "$DEVICE" = cuda ] && echo reduce-overhead || echo default)}
mkdir -p "$OUT"
WORK=${WORK:-/tmp/rankatt_gpu_work}
mkdir -p "$WORK/artifacts"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg TQDM_DISABLE=1

if [ -f tools/gpu/install_carry.sh ] && [ -d device_carry ]; then
  # shellcheck source=/dev/null
  source tools/gpu/install_carry.sh || { echo "install_carry.sh failed" | tee -a "$OUT/summary.txt"; exit 1; }
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/log.txt" >&2; }
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }

# run_step NAME SECONDS COMMAND...: run with a time limit, output to log.txt, verdict to summary.txt
run_step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  log "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" bash -c "$1" >>"$OUT/log.txt" 2>&1
  local rc=$?
  local took=$((SECONDS - t0))
  case $rc in
    0) summary "$name: ok in ${took}s" ;;
    124 | 137) summary "$name: TIMED OUT after ${took}s (limit ${limit}s)" ;;
    *) summary "$name: FAILED (exit $rc) after ${took}s" ;;
  esac
  return $rc
}

pack() { tar -czf "$OUT/artifacts.tar.gz" -C "$WORK" artifacts 2>/dev/null || true; }

if [ "$SMALL" = 1 ]; then
  N_SEQ=2; FRAMES=5; EPOCHS=1; CHAPTERS=book/00_introduction.ipynb; TRAIN_EXTRA="--clips-per-sequence 1"
else
  N_SEQ=0; FRAMES=0; EPOCHS=12; CHAPTERS=book; TRAIN_EXTRA=""
fi
TEST_SPLIT=data/synthetic/test
RES=$WORK/artifacts/results

# the test sequences the checks use (all, or the first N_SEQ)
seq_list() {
  if [ -n "${SEQS:-}" ]; then echo "$SEQS"; return; fi
  "$PY" - "$TEST_SPLIT" "$N_SEQ" <<'EOF'
import sys
from rankatt_lib.data import OTBFormatDataset
names = OTBFormatDataset(sys.argv[1]).names
n = int(sys.argv[2])
print(",".join(names[:n] if n > 0 else names))
EOF
}

step_env() {
  {
    date -u
    nvidia-smi || echo "no nvidia-smi"
    "$PY" - <<'EOF'
import platform, torch, numpy
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "numpy", numpy.__version__)
print("cuda available:", torch.cuda.is_available(),
      "device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
import rankatt_lib, rankatt_lib.features as f
print("rankatt_lib", rankatt_lib.__version__, "device()", rankatt_lib.device())
net = f.VGG16Features(device="cpu")
print("VGG16 weights:", net.source, net.source_detail)
EOF
  } >"$WORK/artifacts/env.txt" 2>&1
  cat "$WORK/artifacts/env.txt" >>"$OUT/log.txt"
  grep -E "^(python|cuda available|VGG16)" "$WORK/artifacts/env.txt" >>"$OUT/summary.txt"
}

step_data() {
  "$PY" data_scripts/make_synthetic_otb.py --out data/synthetic --seed 0 --workers "$(nproc)" --no-progress || return 1
  if [ -f device_carry/synthetic.sha256 ]; then
    if sha256sum --quiet -c device_carry/synthetic.sha256; then
      summary "data: identical to the build machine's (sha256 of every file)"
    else
      summary "data: DIFFERS from the build machine's: parity with the CPU trajectories is then approximate"
    fi
  else
    summary "data: no device_carry/synthetic.sha256 to compare with"
  fi
}

step_tests() {
  "$PY" -m pytest -q -p no:cacheprovider -m "not browser" tests/test_execution.py tests/test_compile.py \
    tests/test_convlstm.py tests/test_cf.py tests/test_features.py tests/test_device.py -k "cuda or CUDA" -rs
}

step_alltests() { "$PY" -m pytest -q -p no:cacheprovider -m "not browser" tests -x -rs; }

has_contrib() { "$PY" -c "import cv2, sys; sys.exit(0 if hasattr(cv2, 'TrackerCSRT_create') else 1)" 2>/dev/null; }

step_bench() {
  local seqs=(--all-sequences) only=rankatt,backbone,crest
  [ "$SMALL" = 1 ] && seqs=(--sequence "$TEST_SPLIT/$(seq_list | cut -d, -f1)")
  if has_contrib; then only=$only,csrt,opencv-kcf,opencv-mosse; else
    summary "bench: this OpenCV has no contrib modules: CSRT/KCF/MOSSE not timed"; fi
  "$PY" -m rankatt_lib.bench --device "$DEVICE" "${seqs[@]}" --frames "$FRAMES" --quiet --only "$only" \
    --json "$OUT/bench_cuda_fp32.json" || return 1
  "$PY" -m rankatt_lib.bench --device "$DEVICE" "${seqs[@]}" --frames "$FRAMES" --quiet \
    --precision bf16 --channels-last --only rankatt,backbone --json "$OUT/bench_cuda_fast.json" || return 1
  "$PY" -m rankatt_lib.bench --device "$DEVICE" "${seqs[@]}" --frames "$FRAMES" --quiet \
    --precision bf16 --channels-last --compile "$COMPILE" --only rankatt,backbone \
    --json "$OUT/bench_cuda_compiled.json"
}

track() {  # track NAME [--option K=V | --exact-fp32 ...]: the tracker over the chosen test sequences
  local name=$1
  shift
  "$PY" -m rankatt_lib.run --tracker rankatt --dataset "$TEST_SPLIT" --results "$RES" --benchmark synthetic \
    --device "$DEVICE" --name "$name" --sequences "$(seq_list)" --no-progress "$@"
}

step_parity() {
  track "rankatt-$DEVICE-fp32" --exact-fp32 || return 1  # float32 as the CPU computes it (no TF32)
  track "rankatt-$DEVICE-fast" --option precision=bf16 --option channels_last=true || return 1
  track "rankatt-$DEVICE-compiled" --option precision=bf16 --option channels_last=true \
    --option compile="$COMPILE" || return 1
  "$PY" data_scripts/compare_runs.py --dataset "$TEST_SPLIT" --benchmark synthetic \
    --run cpu=results:rankatt --run "$DEVICE-fp32=$RES:rankatt-$DEVICE-fp32" \
    --run "$DEVICE-fast=$RES:rankatt-$DEVICE-fast" --run "$DEVICE-compiled=$RES:rankatt-$DEVICE-compiled" \
    --reference cpu --max-auc-drop 0.01 --json "$OUT/parity.json"
}

step_train() {
  local ck=$WORK/artifacts/ranking_synthetic_gpu.pt
  "$PY" data_scripts/train_ranking.py --data data/synthetic/train --out "$ck" --name ranking_synthetic_gpu \
    --epochs "$EPOCHS" --device "$DEVICE" --gate-biases -3 6 6 --cell-norm input --restart --no-progress \
    --cache "$WORK/cache" --state "$WORK/state.pt" --results "$WORK/artifacts/training" $TRAIN_EXTRA || return 1
  track "rankatt-$DEVICE-gpu-checkpoint" --option checkpoint="$ck" --option updater=checkpoint || return 1
  "$PY" data_scripts/compare_runs.py --dataset "$TEST_SPLIT" --benchmark synthetic \
    --run shipped-cpu=results:rankatt --run "gpu-trained=$RES:rankatt-$DEVICE-gpu-checkpoint" --reference shipped-cpu \
    --json "$WORK/artifacts/training/gpu_checkpoint_vs_shipped.json"
}

step_nbval() {
  # not Agg: a kernel that inherits MPLBACKEND=Agg skips the inline backend and loses every
  # figure's "<Figure size ...>" output (see install_carry.sh)
  unset MPLBACKEND
  local par=()
  "$PY" -c "import xdist" 2>/dev/null && par=(-n "${NBVAL_WORKERS:-6}" --dist loadfile)
  "$PY" -m pytest -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
    "${par[@]}" "$CHAPTERS" -q -rf --junitxml "$WORK/artifacts/nbval.xml" >"$OUT/nbval.log" 2>&1
  local rc=$?
  tail -n 5 "$OUT/nbval.log" >>"$OUT/log.txt"
  # sort the failures: the machine's OpenCV lacking contrib (CSRT/KCF/MOSSE) vs anything else
  "$PY" tools/gpu/nbval_failures.py "$WORK/artifacts/nbval.xml" | tee -a "$OUT/summary.txt"
  return $rc
}

# run_step runs each step in a child bash (so that timeout can stop it): export what it uses
export SEQS=${SEQS:-}
export OUT DEVICE SMALL PY WORK N_SEQ FRAMES EPOCHS CHAPTERS TEST_SPLIT RES TRAIN_EXTRA COMPILE
export -f log summary seq_list track has_contrib step_env step_data step_tests step_alltests step_bench \
  step_parity step_train step_nbval

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(env data bench parity tests train nbval)
summary "rankatt device check $(date -u +%FT%TZ), device $DEVICE, steps: ${steps[*]}, small=$SMALL"
for s in "${steps[@]}"; do
  case $s in
    env) run_step env 120 step_env ;;
    data) run_step data 180 step_data ;;
    tests) run_step tests 180 step_tests ;;
    alltests) run_step alltests 600 step_alltests ;;
    bench) run_step bench 240 step_bench ;;
    parity) run_step parity 180 step_parity ;;
    train) run_step train 300 step_train ;;
    nbval) run_step nbval 300 step_nbval ;;
    *) summary "unknown step $s" ;;
  esac
  pack
done
summary "done $(date -u +%FT%TZ)"
