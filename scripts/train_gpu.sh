#!/usr/bin/env bash
# Train the embedded model's recipe on one GPU inside a short device session (default 10 minutes
# of training, so a 15-minute lease has room for start-up and the copy back), and put the
# weights where they come back: OUT (default $OUT, else runs/gpu-out).
#
#   scripts/train_gpu.sh                  # fm + MeanFlow from scratch, time-boxed, on cuda
#   MODE=continue scripts/train_gpu.sh    # train the packaged model on (the `continue` stage)
#   MODE=guidance-input scripts/train_gpu.sh
#                                         # the packaged model with guidance as an input of the
#                                         # network (scales 1-3 in one model; `guidance-input` stage)
#   MODE=flow-first scripts/train_gpu.sh  # flow matching from scratch (FM_SHARE of the minutes,
#                                         # default 0.6), then that flow converted into a one-step
#                                         # flow map by the `continue` stage (docs/training.md,
#                                         # "Flow matching at the shipped line's compute")
#   PICTURE_AUGMENT=1.0 MODE=flow-first scripts/train_gpu.sh
#                                         # every stage with picture jitter (mirror, brightness,
#                                         # contrast; docs/training.md, "Picture jitter")
#   DEVICE=cpu MINUTES=2 FM_STEPS=2 MF_STEPS=2 BATCH=2 WORKERS=0 scripts/train_gpu.sh /tmp/dry
#                                         # the dry run: the same path on a CPU, a few steps
#
# The data are made on the fly by worker processes (the world renders a clip in ~20 ms), so the
# GPU waits on the CPU cores: WORKERS defaults to the core count minus two. `--minutes` ends each
# stage early and still exports, so the weights always come back; the stages' checkpoints
# (train_state.pt) come back too with KEEP_STATE=1, to continue the run in a later session
# (copy them into the run folder and run the same command again). Afterwards, here:
#   mfmjt eval synth --model OUT/model.safetensors --split val --clips 32 --out runs/eval-gpu
set -euo pipefail

cd "$(dirname "$0")/.."
DEST="${1:-${OUT:-runs/gpu-out}}"
MODE="${MODE:-scratch}"
MINUTES="${MINUTES:-10}"
BATCH="${BATCH:-64}"
FM_STEPS="${FM_STEPS:-6000}"
MF_STEPS="${MF_STEPS:-6000}"
RUN="${RUN:-runs/gpu}"
if [[ -z "${DEVICE:-}" ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then DEVICE=cuda; else DEVICE=cpu; fi
fi
CORES="$(nproc)"
WORKERS="${WORKERS:-$(( CORES > 3 ? CORES - 2 : 1 ))}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
case "$MODE" in
  scratch|continue|guidance-input|flow-first) ;;
  *) echo "MODE must be scratch, continue, guidance-input or flow-first, got $MODE" >&2; exit 2 ;;
esac
FM_SHARE="${FM_SHARE:-0.6}"
if ! awk -v s="$FM_SHARE" 'BEGIN { exit !(s > 0 && s < 1) }'; then
  echo "FM_SHARE is the flow stage's share of the minutes, between 0 and 1, got $FM_SHARE" >&2; exit 2
fi
PICTURE_AUGMENT="${PICTURE_AUGMENT:-0.0}"
if ! awk -v s="$PICTURE_AUGMENT" 'BEGIN { exit !(s ~ /^[0-9.]+$/ && s >= 0 && s <= 1) }'; then
  echo "PICTURE_AUGMENT is the picture jitter's strength, between 0 and 1, got $PICTURE_AUGMENT" >&2; exit 2
fi
mkdir -p "$DEST" "$RUN"
rm -f "$DEST/model.safetensors"  # only this session's weights come back as the model

common=(--device "$DEVICE" --workers "$WORKERS" --out "$RUN"
        --set "batch_size=$BATCH" --set "log_every=50" --set "checkpoint_every=500"
        --set "picture_augment=$PICTURE_AUGMENT")
# lr scaled for the larger batch (the recipe's 1e-3 at 16 rows is already high: +50%)
from_scratch=(--set "optim.lr=1.5e-3" --set "optim.ema_decay=0.999")
train() {  # train MINUTES ARGS...: one `mfmjt train` time-boxed to MINUTES, its log appended
  local minutes="$1"; shift
  "$PY" -m mfmjt_cli train tiny-synth "${common[@]}" --minutes "$minutes" "$@" 2>&1 | tee -a "$DEST/train.log"
  return "${PIPESTATUS[0]}"
}

echo "train_gpu: $MODE on $DEVICE, $WORKERS workers, batch $BATCH, $MINUTES min -> $DEST" >&2
: > "$DEST/train.log"
start=$(date +%s)
set +e
case "$MODE" in
  scratch)
    train "$MINUTES" --stages fm,meanflow --set "fm:steps=$FM_STEPS" --set "meanflow:steps=$MF_STEPS" \
      "${from_scratch[@]}" ;;
  continue)
    train "$MINUTES" --stages continue --init embedded --set "continue:steps=$MF_STEPS" ;;
  guidance-input)
    train "$MINUTES" --stages guidance-input --init embedded --set "guidance-input:steps=$MF_STEPS" ;;
  flow-first)
    # the conversion with more text-only rows (null_video 0.55), as measured on the CPU
    fm_minutes="$(awk -v m="$MINUTES" -v s="$FM_SHARE" 'BEGIN { printf "%.2f", m * s }')"
    conv_minutes="$(awk -v m="$MINUTES" -v f="$fm_minutes" 'BEGIN { printf "%.2f", m - f }')"
    train "$fm_minutes" --stages fm --set "fm:steps=$FM_STEPS" "${from_scratch[@]}" &&
      train "$conv_minutes" --stages continue --init "$RUN/fm/model.safetensors" \
        --set "continue:steps=$MF_STEPS" --set "continue:null_video=0.55" ;;
esac
rc=$?
set -e
echo "train_gpu: exit $rc after $(( $(date +%s) - start )) s" | tee -a "$DEST/train.log" >&2

# Bring back every stage's export, config and log (and checkpoints when asked).
for stage_dir in "$RUN"/*/; do
  stage="$(basename "$stage_dir")"
  [[ -f "$stage_dir/model.safetensors" ]] && cp "$stage_dir/model.safetensors" "$DEST/$stage.safetensors"
  for f in config.json log.jsonl command.txt; do
    [[ -f "$stage_dir/$f" ]] && cp "$stage_dir/$f" "$DEST/$stage.$f"
  done
  if [[ "${KEEP_STATE:-0}" == 1 && -f "$stage_dir/train_state.pt" ]]; then
    cp "$stage_dir/train_state.pt" "$DEST/$stage.train_state.pt"
  fi
done
case "$MODE" in scratch) last=meanflow ;; flow-first) last=continue ;; *) last="$MODE" ;; esac
if [[ -f "$DEST/$last.safetensors" ]]; then
  cp "$DEST/$last.safetensors" "$DEST/model.safetensors"
  echo "train_gpu: weights in $DEST/model.safetensors" >&2
fi
exit "$rc"
