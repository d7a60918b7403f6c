#!/usr/bin/env bash
# Installs what the builds need beyond the Rust toolchain: cmake and Go for the FIPS
# build of AWS-LC. Idempotent; uses apt-get as root (or through sudo).
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v clang >/dev/null 2>&1 || need+=(clang)
# Tests only: the HTML assessment report is rendered in headless Chromium.
[ "${1:-}" = "--test" ] && { command -v chromium >/dev/null 2>&1 || need+=(chromium); }
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
