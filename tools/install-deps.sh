#!/usr/bin/env bash
# Installs the Debian packages dsv4 builds and tests with (only the missing ones).
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config libgtest-dev nlohmann-json3-dev libpcre2-dev libcpp-httplib-dev nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  # NodeSource's nodejs package ships npm itself (and conflicts with Debian's npm).
  [[ "$p" == npm ]] && command -v npm >/dev/null 2>&1 && continue
  missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
