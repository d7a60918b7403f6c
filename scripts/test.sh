#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the tests of the default
# build and of the FIPS build (AWS-LC FIPS 140-3 module), and the dependency rule that
# keeps I/O out of the core crates; the supply-chain rules (deny.toml) and the Debian
# package, installed and run as its systemd unit says.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
# A clean checkout gains nothing from incremental state, which costs gigabytes per build.
export CARGO_INCREMENTAL=0

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

step "test tools: sslyze (TLS scan of the running server), mmdb-writer (GeoIP fixtures)"
python3 -c "import sslyze, mmdb_writer, netaddr" 2>/dev/null ||
  python3 -m pip install -q --root-user-action=ignore sslyze mmdb-writer netaddr

step "test tools: compliance-trestle (OSCAL validation), in its own virtualenv"
# Its own environment: trestle's dependencies (cryptography) conflict with sslyze's.
[ -x /opt/itarvault-trestle/bin/trestle ] || {
  python3 -m venv /opt/itarvault-trestle
  /opt/itarvault-trestle/bin/pip install -q compliance-trestle
}

step "test tools: schemathesis (OpenAPI conformance), in its own virtualenv"
# Pinned: the accepted-failures baseline (scripts/schemathesis-baseline.json) names
# failures by signatures of this version.
[ -x /opt/itarvault-schemathesis/bin/st ] &&
  /opt/itarvault-schemathesis/bin/st --version | grep -q "4.32.5" || {
  python3 -m venv /opt/itarvault-schemathesis
  /opt/itarvault-schemathesis/bin/pip install -q "schemathesis==4.32.5"
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (default build, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "core crates stay free of I/O runtimes"
for crate in itarvault-format itarvault-policy itarvault-audit itarvault-lockbox itarvault-scan itarvault-assess; do
  if cargo tree -p "$crate" -e normal --prefix none | grep -E '^(tokio|sqlx|hyper|reqwest|aws-sdk)' ; then
    echo "$crate must not depend on an I/O runtime" >&2; exit 1
  fi
done

step "tests (default build: AWS-LC)"
cargo test --workspace --locked

step "schemathesis (all checks) against the served docs/openapi.json, as admin and as an ordinary principal"
ITARVAULT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/itarvault" scripts/schemathesis.sh

step "tests (fips build: AWS-LC FIPS module)"
# The same target directory: crates that do not link AWS-LC (Cedar, Tokio, serde, ...)
# keep their default-build artifacts, so only the crypto-dependent part is rebuilt.
cargo test --workspace --locked --features fips

step "fuzz targets, briefly (header, label, decision request, audit log, text rule, lockbox limits, ...)"
scripts/fuzz.sh

step "cargo deny: licences, bans, sources (offline; the advisory check is a release step)"
# Pinned: deny.toml is written for this version's format.
cargo deny --version 2>/dev/null | grep -qx "cargo-deny 0.20.2" ||
  cargo install --locked --quiet cargo-deny@0.20.2
cargo deny --offline check licenses bans sources

step "Debian package: FIPS release build, install, start as the unit does, store and read, purge"
scripts/test-package.sh
