#!/usr/bin/env bash
# ctest entry: starts `dsv4 serve` on free loopback ports (a main server with an API key, and a
# one-slot server for the overload case), waits for /health, runs `node --test` on the given test
# files, and always stops the servers.
# usage: run.sh DSV4_BIN MODEL_DIR TOKENIZER_JSON TEST_FILE...
# Exit 77 (ctest: skipped) when node or the openai package cannot be had.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1 model=$2 tokenizer=$3
shift 3
tests=("$@")

command -v node >/dev/null || { echo "node not found: skipped"; exit 77; }
if ! bash "$here/setup.sh"; then echo "cannot install the openai npm package (npm ci failed): skipped"; exit 77; fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start NAME ARGS...: starts a server on a free port, sets PORT_<NAME>.
start() {
  local name=$1; shift
  env -u DSV4_API_KEY "$bin" serve --model "$model" --tokenizer "$tokenizer" --host 127.0.0.1 --port 0 "$@" 2>"$tmp/$name.log" &
  pids+=($!)
  local port=""
  for _ in $(seq 300); do  # <= 30 s
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.log" | head -1)
    [[ -n $port ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port ]]; then echo "server $name did not start:"; cat "$tmp/$name.log"; exit 1; fi
  for _ in $(seq 100); do  # <= 10 s
    if node -e "fetch('http://127.0.0.1:$port/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
      printf -v "PORT_$name" '%s' "$port"
      return 0
    fi
    sleep 0.1
  done
  echo "server $name: /health never answered"; cat "$tmp/$name.log"; exit 1
}

start main --api-key test-key --max-batch 32 --max-queue 96 --max-context 1024 --max-body-bytes 1048576 --model-id dsv4-tiny-a --threads 2
start overload --max-batch 1 --max-queue 0 --max-context 512 --model-id dsv4-tiny-a --threads 1

export DSV4_BASE_URL="http://127.0.0.1:$PORT_main/v1" DSV4_API_KEY=test-key DSV4_MODEL_ID=dsv4-tiny-a
export DSV4_OVERLOAD_URL="http://127.0.0.1:$PORT_overload/v1"
cd "$here"
timeout 200 node --test --test-concurrency=1 "${tests[@]}"
rc=$?
if [[ $rc -ne 0 ]]; then echo "--- server log (main)"; tail -50 "$tmp/main.log"; fi
exit $rc
