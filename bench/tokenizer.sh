#!/usr/bin/env bash
# Tokenizer benchmark: dsv4 vs HF tokenizers (Rust, through its Node binding) encoding the
# same ~10 MB corpus on one thread. Installs the binding into build/bench-hf (git-ignored),
# fetches the tokenizer files, builds dsv4 (Release) and prints a table.
# Usage: bench/tokenizer.sh [deepseek_v4|deepseek_v3]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
name="${1:-deepseek_v4}"
tok="tests/data/tokenizers/$name/tokenizer.json"
hf_dir="build/bench-hf"
corpus="build/bench-tokenizer-corpus.json"

bash tools/fetch-tokenizers.sh >/dev/null
if [[ ! -d "$hf_dir/node_modules/@anush008/tokenizers" ]]; then
  mkdir -p "$hf_dir"
  npm install --silent --no-audit --no-fund --prefix "$hf_dir" @anush008/tokenizers@0.6.0 >/dev/null
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target dsv4core >/dev/null
g++ -O3 -march=native -std=c++20 -Isrc bench/tokenizer_bench.cpp build/libdsv4core.a \
  $(pkg-config --cflags --libs libpcre2-8) -lpthread -o build/tokenizer_bench

# One thread for both: dsv4 encodes on the calling thread; HF gets no worker pool.
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
ours="$(taskset -c 0 build/tokenizer_bench "$tok" "$corpus" --write-corpus tests/data/tokenizer/deepseek-v3-reference-encodings.json tests/data/tokenizer/deepseek-v4-reference-encodings.json)"
hf="$(NODE_PATH="$hf_dir/node_modules" taskset -c 0 node bench/hf_tokenizers_bench.js "$tok" "$corpus")"

python3 - "$name" "$ours" "$hf" <<'PY'
import json, sys
name, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"tokenizer: {name}; corpus: {a['docs']} documents, {a['bytes']/1e6:.2f} MB; one thread")
print(f"| implementation | MB/s (wall) | tokens/s (wall) | MB per CPU-second | first round MB/s (cold cache) | tokens | load (s) |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for r in (a, b):
    print(f"| {r['impl']} | {r['mb_per_s']:.2f} | {r['tokens_per_s']:,} | {r['mb_per_cpu_s']:.2f} | {r['first_round_mb_per_s']:.2f} | {r['tokens']:,} | {r['load_s']:.2f} |")
print(f"speed-up: {a['mb_per_s']/b['mb_per_s']:.1f}x wall, {a['mb_per_cpu_s']/b['mb_per_cpu_s']:.1f}x CPU; same token count: {a['tokens'] == b['tokens']}")
PY
