#!/usr/bin/env bash
# Builds and signs a release (docs/supply-chain.md). Run by the release owner, from a
# clean checkout of the commit to release; not part of CI.
#
#   scripts/release.sh --key FILE [--out DIR] [--skip-advisories] [--check-reproducible]
#
#   --key FILE     the release owner's SSH signing key (or its .pub when the private key
#                  is in ssh-agent, e.g. on a hardware token); or ITARVAULT_RELEASE_KEY
#   --out DIR      where the release goes (default dist/VERSION)
#   --skip-advisories
#                  do not run `cargo deny check advisories` (it needs the network to
#                  fetch the RustSec database; skipping it must be a decision)
#   --check-reproducible
#                  build everything twice, each time in a new empty target directory,
#                  and fail unless the two builds are bit for bit the same
#
# Writes: the FIPS release binary, the Debian package, the CycloneDX SBOM, SHA256SUMS
# over them, and SHA256SUMS.sig (`ssh-keygen -Y sign`, namespace itarvault-release).
# Verify with:
#   ssh-keygen -Y verify -f allowed_signers -I RELEASE-OWNER -n itarvault-release \
#     -s SHA256SUMS.sig < SHA256SUMS && sha256sum -c SHA256SUMS
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

key="${ITARVAULT_RELEASE_KEY:-}"
out=""
advisories=1
reproducible=0
while [ $# -gt 0 ]; do
  case "$1" in
    --key) key="$2"; shift ;;
    --out) out="$2"; shift ;;
    --skip-advisories) advisories=0 ;;
    --check-reproducible) reproducible=1 ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$key" ] || { echo "release: no signing key (--key FILE or ITARVAULT_RELEASE_KEY)" >&2; exit 2; }
[ -f "$key" ] || { echo "release: no key at $key" >&2; exit 2; }

# A release is a commit: nothing uncommitted may reach it.
[ -z "$(git status --porcelain)" ] || { echo "release: the work tree has uncommitted changes" >&2; exit 1; }
commit=$(git rev-parse HEAD)
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$commit")
version=$(cargo metadata --no-deps --format-version 1 --locked --offline |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "itarvault-cli"))')
out="${out:-$root/dist/$version}"
export CARGO_INCREMENTAL=0
scripts/deps.sh

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

# One build: binary, package and SBOM from a target directory that starts empty.
# Paths that differ between machines (the checkout, the target directory, Cargo's
# home) are mapped to fixed names in both the Rust and the C (AWS-LC) objects, so the
# bytes depend on the commit and the toolchain only.
build() { # TARGET_DIR DEST_DIR
  local target=$1 dest=$2 cargo_home="${CARGO_HOME:-$HOME/.cargo}"
  rm -rf "$target" "$dest"
  mkdir -p "$target" "$dest"
  local map="--remap-path-prefix=$root=/build/itarvault --remap-path-prefix=$target=/build/target --remap-path-prefix=$cargo_home=/build/cargo"
  local cmap="-ffile-prefix-map=$root=/build/itarvault -ffile-prefix-map=$target=/build/target -ffile-prefix-map=$cargo_home=/build/cargo"
  step "release build in $target (FIPS, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
  CARGO_TARGET_DIR="$target" RUSTFLAGS="$map" CFLAGS="$cmap" CXXFLAGS="$cmap" \
    cargo build --release --locked -p itarvault-cli --features fips
  install -m 0755 "$target/release/itarvault" "$dest/itarvault-$version-x86_64-linux"
  step "Debian package"
  CARGO_TARGET_DIR="$target" scripts/package-deb.sh --no-build --out "$dest" >/dev/null
  step "SBOM (CycloneDX 1.5)"
  python3 scripts/sbom.py --binary "$dest/itarvault-$version-x86_64-linux" --features fips \
    --commit "$commit" --out "$dest/itarvault-$version.cdx.json"
  (cd "$dest" && sha256sum -- * > SHA256SUMS)
}

if [ "$advisories" = 1 ]; then
  step "cargo deny check advisories (RustSec database, over the network)"
  command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny
  cargo deny check advisories
fi
step "cargo deny check licenses bans sources"
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny
cargo deny --offline check licenses bans sources

work="${ITARVAULT_RELEASE_WORK:-$root/target/release-work}"
build "$work/target-a" "$work/a"
if [ "$reproducible" = 1 ]; then
  build "$work/target-b" "$work/b"
  step "reproducibility: comparing the two builds"
  if ! diff -u "$work/a/SHA256SUMS" "$work/b/SHA256SUMS"; then
    echo "release: NOT reproducible: the two builds of $commit differ (above)" >&2
    exit 1
  fi
  echo "reproducible: both builds of $commit gave the same bytes:" >&2
  cat "$work/a/SHA256SUMS" >&2
fi

step "signing SHA256SUMS"
rm -rf "$out"
mkdir -p "$out"
cp -p "$work/a"/* "$out/"
(cd "$out" && sha256sum -c --quiet SHA256SUMS)
ssh-keygen -Y sign -f "$key" -n itarvault-release "$out/SHA256SUMS"
# Check the signature as a user will, when the public key is at hand.
pub="${key%.pub}.pub"
if [ -f "$pub" ]; then
  signer="${ITARVAULT_RELEASE_SIGNER:-release-owner}"
  printf '%s namespaces="itarvault-release" %s\n' "$signer" "$(cut -d' ' -f1,2 "$pub")" > "$work/allowed_signers"
  ssh-keygen -Y verify -f "$work/allowed_signers" -I "$signer" -n itarvault-release \
    -s "$out/SHA256SUMS.sig" < "$out/SHA256SUMS" >&2
  echo "signing key: $(ssh-keygen -l -f "$pub")" >&2
fi
step "release $version ($commit) in $out"
ls -l "$out" >&2
