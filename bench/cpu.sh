#!/usr/bin/env bash
# CPU benchmark (bench/README.md "CPU kernels"): builds the dsv4-cpu2g model (random weights) in
# BF16, FP8 and FP4-experts, measures this machine's streaming-read bandwidth and FMA peak, then
# prints one table: decode tok/s at batch 1 with the weight bytes each token reads and the
# fraction of bandwidth achieved, and prefill tok/s for a 512 and a 2048-token prompt with the
# matmul GFLOP/s against the FMA peak; each model in each numerics mode (fp32, official, int8),
# with that mode's argmax agreement and mean KL against the logits_full reference of
# tests/data/dsv4-small-fp8 (decoded token by token, as decode computes them).
#
#   bash bench/cpu.sh [--keep DIR] [--threads N] [--gen N] [--build DIR] [--models "bf16 fp8 fp4-experts"]
#                     [--prompts "512 2048"] [--numerics "fp32 official int8"]
#
# --keep DIR: write the models and prompts to DIR and reuse them on the next run (otherwise a
# temporary directory, removed at exit). Needs ~13 GB of disk while running.
set -euo pipefail
cd "$(dirname "$0")/.."
keep="" threads=$(nproc) gen=32 build=build-bench models="bf16 fp8 fp4-experts" prompts="512 2048" numerics="fp32 official int8"
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --gen) gen=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --prompts) prompts=$2; shift 2 ;;
    --numerics) numerics=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench/cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target dsv4 >/dev/null
dsv4="$build/dsv4"

if [ -n "$keep" ]; then
  work=$keep
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
cfg=bench/configs/dsv4-cpu2g.json
vocab=$(grep -o '"vocab_size": *[0-9]*' "$cfg" | grep -o '[0-9]*$')

# Models: random init in BF16, then the official quantized layouts from it.
if [ ! -f "$work/bf16/model.safetensors.index.json" ]; then
  echo "== random-init bf16" >&2
  "$dsv4" random-init --config "$cfg" --out "$work/bf16" --format bf16 --seed 1 --threads "$threads"
fi
for f in fp8 fp4-experts; do
  if [ ! -f "$work/$f/model.safetensors.index.json" ]; then
    echo "== quantize $f" >&2
    "$dsv4" quantize --model "$work/bf16" --out "$work/$f" --format "$f" --threads "$threads"
  fi
done
# Prompts: fixed pseudo-random token ids.
for n in 512 2048; do
  [ -f "$work/prompt-$n.txt" ] ||
    awk -v n="$n" -v v="$vocab" 'BEGIN { srand(n); for (i = 0; i < n; i++) printf "%d ", 2 + int(rand() * (v - 2)); print "" }' \
      >"$work/prompt-$n.txt"
done

field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | tail -1; }

echo "== machine" >&2
m=$("$dsv4" bench --machine --threads "$threads")
echo "$m" | grep -v '^RESULT' >&2
bw=$(echo "$m" | field bandwidth_gbs)
peak=$(echo "$m" | field peak_gflops)
isa=$(echo "$m" | sed -n 's/^kernels *//p')

# Exactness of each numerics mode: dsv4-small-fp8 (official layout, FP8 + MXFP4 experts) against
# its reference logits, one token per forward step.
small=tests/data/dsv4-small-fp8
ones=$(awk 'BEGIN { for (i = 0; i < 400; i++) printf "%s1", (i ? "," : "") }')
declare -A exact
for num in $numerics; do
  c=$("$dsv4" logits --model "$small" --reference "$small/reference.safetensors" --numerics "$num" --chunks "$ones" --threads "$threads")
  exact[$num]=$(echo "$c" | awk '/^RESULT compare/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.1f%% | %.2g", 100 * v["argmax_agreement"], v["mean_kl"] }')
done

rows=()
for f in $models; do
 # An untimed load of the model first: the first process to map a model after another model's
 # runs had the kernel compacting memory for its huge pages during its decode (cpu use 81-85%
 # in that row only, 99-100% when the same command ran again).
 "$dsv4" bench --model "$work/$f" --prompt 1 --gen 1 --threads "$threads" >/dev/null 2>&1 || true
 for num in $numerics; do
  # int8 changes only MXFP4 products: the bf16 and fp8 models would repeat their fp32 rows
  if [ "$num" = int8 ] && [ "$f" != fp4-experts ]; then continue; fi
  echo "== $f ($num numerics)" >&2
  size=$(du -sb "$work/$f" | cut -f1)
  row="| $f | $num | ${exact[$num]} | $(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e9 }')"
  first=1
  for n in $prompts; do
    if [ $first = 1 ]; then g=$gen; else g=0; fi
    # --machine: bandwidth and peak measured again in the same process, right before this model
    # runs (a shared host's DRAM bandwidth moves by 2x between minutes); fractions use these.
    r=$("$dsv4" bench --machine --model "$work/$f" --numerics "$num" --tokens "$work/prompt-$n.txt" --gen "$g" --threads "$threads" 2>/dev/null)
    echo "$r" | grep -v '^RESULT' >&2
    bw_now=$(echo "$r" | field bandwidth_gbs)
    bw_before=$(echo "$r" | field bandwidth_before_gbs)
    [ -n "$bw_before" ] && bw_now=$bw_before  # read again right before the decode (with --gen > 0)
    bw_after=$(echo "$r" | field bandwidth_after_gbs)
    bw_during=$(echo "$r" | field bandwidth_during_gbs)
    # the larger of the readings before and after this model's run: the conservative yardstick
    [ -n "$bw_after" ] && bw_now=$(awk -v a="$bw_now" -v b="$bw_after" 'BEGIN { print (a > b ? a : b) }')
    peak_now=$(echo "$r" | field peak_gflops)
    if [ $first = 1 ]; then
      row+=$(awk -v bw="$bw_now" -v bwd="$bw_during" -v dt="$(echo "$r" | field decode_tps)" -v mb="$(echo "$r" | field decode_mb)" \
        -v dg="$(echo "$r" | field decode_gbs)" -v cpu="$(echo "$r" | field decode_cpu)" \
        'BEGIN { printf " | %.1f | %.0f | %.1f | %.1f | %.0f%% | %.1f | %.0f%% | %.0f%%", dt, mb, dg, bw, 100 * dg / bw, bwd, 100 * dg / bwd, 100 * cpu }')
    fi
    row+=$(awk -v n="$n" -v peak="$peak_now" -v p="$(echo "$r" | field prefill_tps)" -v g="$(echo "$r" | field prefill_gflops)" \
      -v cpu="$(echo "$r" | field prefill_cpu)" \
      'BEGIN { printf " | %d: %.1f tok/s, %.0f GFLOP/s (%.0f%% of peak), cpu %.0f%%", n, p, g, 100 * g / peak, 100 * cpu }')
    first=0
  done
  rows+=("$row |")
 done
done

echo
echo "dsv4 CPU benchmark: dsv4-cpu2g, $threads threads, kernels $isa, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine at the start: streaming read $bw GB/s, fp32 FMA peak $peak GFLOP/s (all threads); each row's"
echo "'of bandwidth' uses the bandwidth measured again right before and right after that row's decode, the"
echo "larger of the two best-of-15 readings ('read GB/s': a shared host's DRAM bandwidth moves 2x within"
echo "seconds); 'of read between steps' uses the mean of the 128 MB reads run between its decode steps"
echo "(the same seconds as the decode, a mean against a mean)"
echo "(cpu = CPU time the run got / (wall time x threads): below 100% the machine was shared)"
echo "(argmax agree, mean KL: the numerics mode on $small against its logits_full, token by token)"
echo
hdr="| model | numerics | argmax agree | mean KL | GB on disk | decode tok/s | MB read/token | GB/s | read GB/s | of bandwidth | read between steps | of read between steps | decode cpu"
sep="|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
for n in $prompts; do hdr+=" | prefill $n"; sep+="|---"; done
echo "$hdr |"
echo "$sep|"
printf '%s\n' "${rows[@]}"

# The kernels alone (dsv4 bench --kernels): matrix-vector from DRAM and from cache, and the
# prefill GEMM shapes, per stored format.
echo
echo "kernels alone ($threads threads):"
"$dsv4" bench --machine --kernels --threads "$threads" | grep -v '^RESULT'
