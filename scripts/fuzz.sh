#!/usr/bin/env bash
# Runs every fuzz target for a short while (default 20 s each) from the checked-in
# seeds, in a scratch corpus so the repository is never modified. cargo-fuzz needs
# nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them for this build
# only (the fuzz crate is its own workspace and never shares a target with the product).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_SECONDS:-20}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in $(cargo fuzz list); do
  mkdir -p "$scratch/$t"
  cp -r corpus/"$t"/. "$scratch/$t"/ 2>/dev/null || true
  echo "fuzzing $t for ${secs}s" >&2
  if ! cargo fuzz run "$t" "$scratch/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$scratch/$t.log" 2>&1; then
    tail -n 60 "$scratch/$t.log" >&2
    echo "fuzz target $t found a failure; the input is under fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E "^Done" "$scratch/$t.log" >&2
done
