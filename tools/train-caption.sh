#!/usr/bin/env bash
# Reproduces the shipped captioning model (apps/captioning/pretrained) from the Flickr8k release:
#   1. InceptionV3 `mixed6` (nsfwjs weights, 299x299, global-average-pooled 768-d) features for all 8000
#      split images -> feature cache (resumable)
#   2. Show and Tell decoder trained on the 6000 train images (checkpoints + resume in $RUN)
#   3. best checkpoint (dev CIDEr-D, greedy, 500 dev images) exported as float16 to apps/captioning/pretrained
#   4. test split scored with beam 3 -> apps/captioning/docs/flickr8k-test-show-tell.json
# Usage: tools/train-caption.sh [flickr8k folder]   (re-running resumes every step)
# The earlier MobileNetV2 model: MODEL=mobilenet_v2 LAYER=out_relu SIZE=224 tools/train-caption.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-${DATA:-../shared/data/flickr8k}}
MODEL=${MODEL:-inception_v3}
LAYER=${LAYER:-mixed6}
SIZE=${SIZE:-299}
FEATS=${FEATS:-apps/captioning/tmp/features/flickr8k-$MODEL-$LAYER-$SIZE}
RUN=${RUN:-apps/captioning/tmp/runs/show-tell-$MODEL-$LAYER}
EPOCHS=${EPOCHS:-8}
export CONVLAB_BACKEND=${CONVLAB_BACKEND:-native}
CLI="node apps/captioning/bin/convlab-caption.js"

$CLI extract --data "$DATA" --features "$FEATS" --model "$MODEL" --layer "$LAYER" --size "$SIZE" --batch 8
$CLI train --data "$DATA" --features "$FEATS" --out "$RUN" --decoder show-tell \
  --epochs "$EPOCHS" --batch 64 --lr 2e-3 --lr-decay 0.8 --hidden 256 --embed 256 --dropout 0.2 \
  --min-count 5 --max-length 16 --patience 2 --val-limit 500 --metric CIDEr-D --seed 1
$CLI export --from "$RUN/best" --to apps/captioning/pretrained
mkdir -p apps/captioning/docs
$CLI eval --model apps/captioning/pretrained --data "$DATA" --features "$FEATS" --split test --beam 3 \
  --out apps/captioning/docs/flickr8k-test-show-tell.json
