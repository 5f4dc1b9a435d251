#!/usr/bin/env bash
# Server throughput at batch 1, 8 and 32: for each, starts `dsv4 serve --max-batch B` on a free loopback
# port, runs B concurrent streaming clients (greedy, ignore_eos, MAX_TOKENS tokens each, 3*B requests),
# prints total generated tokens/s, per-stream decode tokens/s and time to first token, stops the server.
# usage: bench/serve.sh [MODEL_DIR] [TOKENIZER_JSON]   (env: DSV4_BIN, MAX_TOKENS, PROMPT_WORDS, BATCHES, THREADS)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/tests/data/dsv4-tiny-a}
tokenizer=${2:-$root/tests/data/dsv4-tiny-a-tok/tokenizer.json}
bin=${DSV4_BIN:-$root/build/dsv4}
max_tokens=${MAX_TOKENS:-64}
prompt_words=${PROMPT_WORDS:-32}
batches=${BATCHES:-1 8 32}
threads=${THREADS:-0}
tmp=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

echo "model $model, $max_tokens tokens per request, prompt of $prompt_words words, $(nproc) cores"
printf '%-6s %-9s %-12s %-18s %-14s %-14s %-12s %s\n' batch requests tokens/s stream_decode_t/s ttft_p50_ms ttft_mean_ms step_ms engine_t/s
for b in $batches; do
  env -u DSV4_API_KEY "$bin" serve --model "$model" --tokenizer "$tokenizer" --host 127.0.0.1 --port 0 --max-batch "$b" \
    --max-queue $((b * 4)) --threads "$threads" 2>"$tmp/log" &
  pid=$!
  port=""
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log" | head -1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -z $port ]] && { cat "$tmp/log"; exit 1; }
  node "$root/bench/serve_load.mjs" "http://127.0.0.1:$port" "$b" $((b)) 4 8 >/dev/null  # warm-up
  out=$(node "$root/bench/serve_load.mjs" "http://127.0.0.1:$port" "$b" $((b * 3)) "$max_tokens" "$prompt_words") || exit 1
  # Server side (GET /metrics): mean forward-step time, and tokens per second of forward time (the
  # engine alone, without HTTP, JSON and the clients that share the cores).
  metrics=$(node -e "fetch('http://127.0.0.1:$port/metrics').then(r => r.text()).then(t => console.log(t))")
  node -e "const r = JSON.parse(process.argv[1]); const m = process.argv[2];
    const v = (k) => { const l = m.split('\n').find((x) => x.startsWith(k + ' ')); return l ? Number(l.split(' ')[1]) : NaN; };
    const stepMs = 1000 * v('dsv4_step_seconds_total') / v('dsv4_step_sequences_count');
    const engine = v('dsv4_generation_tokens_total') / v('dsv4_step_seconds_total');
    console.log([String(r.concurrency).padEnd(6), String(r.requests).padEnd(9), String(r.tokens_per_s).padEnd(12),
      String(r.per_stream_decode_tokens_per_s).padEnd(18), String(r.ttft_ms_p50).padEnd(14), String(r.ttft_ms_mean).padEnd(14),
      stepMs.toFixed(2).padEnd(12), engine.toFixed(0)].join(' '))" "$out" "$metrics"
  kill "$pid"; wait "$pid" 2>/dev/null; pid=""
done
