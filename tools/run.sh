#!/usr/bin/env bash
# The main job: installs what is missing, builds dsv4, and continues a prompt with the small
# trained default model in models/dsv4-mini (no download needed).
#   bash tools/run.sh                 # default prompt
#   bash tools/run.sh "Your prompt"   # your own
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target dsv4
prompt="${1:-The President said that the nation}"
echo "prompt: $prompt"
./build/dsv4 run --max-new-tokens 60 --temperature 0.8 --top-p 0.95 --seed 1 "$prompt"
