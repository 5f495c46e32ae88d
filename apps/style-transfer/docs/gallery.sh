#!/usr/bin/env bash
# Regenerates the README gallery (apps/style-transfer/docs/gallery/). Run from the repository root.
# Each command also writes <name>.json (run record: backend, timings, losses) and <name>-loss.png.
set -euo pipefail
out=apps/style-transfer/docs/gallery
style() { node apps/style-transfer/bin/convlab-style.js "$@"; }
style --content assets/content/tubingen.jpg --style assets/style/starry_night.jpg --size 256 --iterations 100 --output $out/tubingen-starry_night.jpg
style --content assets/content/horses.jpg --style assets/style/great_wave.jpg --size 256 --iterations 100 --output $out/horses-great_wave.jpg
style --content assets/content/giraffe.jpg --style assets/style/composition_vii.jpg --size 256 --iterations 100 --output $out/giraffe-composition_vii.jpg
