#!/usr/bin/env bash
# Installs the openai npm package (pinned in package-lock.json) into tests/openai/node_modules,
# unless that exact version is already there. Network: the npm registry only.
set -euo pipefail
cd "$(dirname "$0")"
if node -e "
  const want = require('./package-lock.json').packages['node_modules/openai'].version;
  const have = require('./node_modules/openai/package.json').version;
  process.exit(want === have ? 0 : 1)" 2>/dev/null; then
  exit 0
fi
timeout 300 npm ci --no-audit --no-fund --loglevel=error
