#!/usr/bin/env bash
# Reproduces a shipped captioning model (packages/caption/pretrained, or pretrained-attention) from the Flickr8k release:
#   1. InceptionV3 `mixed6` features (nsfwjs weights, 299x299, global-average-pooled 768-d) for all 8000 split
#      images -> feature cache (resumable)
#   2. one Show and Tell decoder per seed in $SEEDS, trained on the 6000 train images (checkpoints + resume)
#   3. the best checkpoints (dev CIDEr-D, greedy, 500 dev images) exported as float16 to packages/caption/pretrained:
#      one model, or an ensemble folder when several seeds are given
#   4. test split scored with beam 3 -> apps/captioning/docs/flickr8k-test-show-tell.json (a run record: scores and captions)
# Usage: tools/train-caption.sh [flickr8k folder]   (re-running resumes every step)
# The shipped soft-attention model (packages/caption/pretrained-attention):
#   DECODER=show-attend-tell GRID_POOL=2 EPOCHS=8 tools/train-caption.sh
#   (InceptionV3 mixed6's 17x17 grid average-pooled to 9x9, cached as float16 beside the pooled vector)
# Variants tried (apps/captioning/README.md has their dev scores):
#   SEEDS="1 2" DROPOUTS="0.2 0.2"                 an ensemble of two seeds (not better than seed 1 on dev)
#   POOLED=mixed4,mixed5,mixed6,mixed7 LAYER=mixed7  four layers' means concatenated, 3072-d (worse on dev)
#   MODEL=mobilenet_v2 LAYER=out_relu SIZE=224     the first shipped model
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-${DATA:-../shared/data/flickr8k}}
MODEL=${MODEL:-inception_v3}
LAYER=${LAYER:-mixed6}
POOLED=${POOLED:-$LAYER}
SIZE=${SIZE:-299}
TAG=${TAG:-$MODEL-$(echo "$POOLED" | tr ',' '+')-$SIZE}
DECODER=${DECODER:-show-tell}
GRID_POOL=${GRID_POOL:-}
[ -n "$GRID_POOL" ] && TAG=$TAG-grid$GRID_POOL
FEATS=${FEATS:-tmp/caption/features/flickr8k-$TAG}
SEEDS=${SEEDS:-1}
DROPOUTS=${DROPOUTS:-0.2}  # one per seed
EPOCHS=${EPOCHS:-8}
export CONVLAB_BACKEND=${CONVLAB_BACKEND:-native}
# LENGTH_PENALTY: the beam-search length penalty chosen on the dev split, stored with the exported model.
if [ "$DECODER" = show-attend-tell ]; then
  LENGTH_PENALTY=${LENGTH_PENALTY:-1}
  DEST=${DEST:-packages/caption/pretrained-attention}
  RESULTS=${RESULTS:-apps/captioning/docs/flickr8k-test-show-attend-tell.json}
else
  LENGTH_PENALTY=${LENGTH_PENALTY:-0}
  DEST=${DEST:-packages/caption/pretrained}
  RESULTS=${RESULTS:-apps/captioning/docs/flickr8k-test-show-tell.json}
fi
CLI="node apps/captioning/bin/convlab-caption.js"

# --pooled-layers only when it differs from the layer: it is part of the encoder spec the cache is keyed on.
POOLED_FLAG=()
[ "$POOLED" != "$LAYER" ] && POOLED_FLAG=(--pooled-layers "$POOLED")
GRID_FLAG=()
[ "$DECODER" = show-attend-tell ] && GRID_FLAG=(--grid)
[ -n "$GRID_POOL" ] && GRID_FLAG+=(--grid-pool "$GRID_POOL")
$CLI extract --data "$DATA" --features "$FEATS" --model "$MODEL" --layer "$LAYER" "${POOLED_FLAG[@]}" "${GRID_FLAG[@]}" --size "$SIZE" --batch 8
read -r -a seeds <<< "$SEEDS"
read -r -a dropouts <<< "$DROPOUTS"
best=()
for i in "${!seeds[@]}"; do
  run=tmp/caption/runs/$DECODER-$TAG-s${seeds[$i]}
  $CLI train --data "$DATA" --features "$FEATS" --out "$run" --decoder "$DECODER" \
    --epochs "$EPOCHS" --batch 64 --lr 2e-3 --lr-decay 0.8 --hidden 256 --embed 256 --dropout "${dropouts[$i]:-0.2}" \
    --min-count 5 --max-length 16 --patience 2 --val-limit 500 --metric CIDEr-D --seed "${seeds[$i]}"
  best+=("$run/best")
done
$CLI export --from "$(IFS=,; echo "${best[*]}")" --to "$DEST" --length-penalty "$LENGTH_PENALTY"
mkdir -p apps/captioning/docs
$CLI eval --model "$DEST" --data "$DATA" --features "$FEATS" --split test --beam 3 --out "$RESULTS"
