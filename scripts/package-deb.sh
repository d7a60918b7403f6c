#!/usr/bin/env bash
# Builds the Debian package (docs/install.md): the release binary built with the AWS-LC
# FIPS module, the sandboxed systemd unit, the production config as conffiles, and the
# maintainer scripts that create and remove the `itarvault` service account.
#
#   scripts/package-deb.sh [--no-build] [--out DIR]
#
# --no-build packages the release binary already in the target directory (it must
# report FIPS mode active). The package is written to DIR (default TARGET/deb) and its
# path printed on stdout. Timestamps come from SOURCE_DATE_EPOCH (default: the last
# commit), so the same binary gives the same package.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/deb"
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--no-build] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

command -v dpkg-shlibdeps >/dev/null 2>&1 || {
  echo "installing: dpkg-dev (dpkg-shlibdeps)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dpkg-dev >/dev/null
}

if [ "$build" = 1 ]; then
  scripts/deps.sh
  cargo build --release --locked -p itarvault-cli --features fips >&2
fi
bin="$target/release/itarvault"
[ -x "$bin" ] || { echo "no release binary at $bin (build it, or drop --no-build)" >&2; exit 1; }
# The package promises the validated module: refuse a binary that does not run in FIPS mode.
"$bin" version --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["fips_mode"] is True else 1)' || {
  echo "$bin does not report FIPS mode active: build it with --features fips" >&2; exit 1
}

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
upstream=$(cargo metadata --no-deps --format-version 1 --locked --offline |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "itarvault-cli"))')
version="$upstream-${DEB_REVISION:-1}"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/pkg"
src="$root/packaging/deb"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/itarvault" \
  "$pkg/usr/share/doc/itarvault/examples"
install -m 0755 "$bin" "$pkg/usr/bin/itarvault"
install -m 0644 "$src/itarvault.service" "$pkg/lib/systemd/system/itarvault.service"
# The config names no secret; the service reads it as an ordinary user.
install -m 0644 "$src/itarvault.toml" "$pkg/etc/itarvault/itarvault.toml"
install -m 0644 "$src/ranges.csv" "$pkg/etc/itarvault/ranges.csv"
install -m 0644 "$src/copyright" "$pkg/usr/share/doc/itarvault/copyright"
install -m 0644 "$src/low-port.conf" "$src/audit-witness-dir.conf" "$pkg/usr/share/doc/itarvault/examples/"
install -m 0644 docs/install.md docs/config.md docs/audit.md docs/supply-chain.md "$pkg/usr/share/doc/itarvault/"
install -m 0755 "$src/postinst" "$src/prerm" "$src/postrm" "$pkg/DEBIAN/"
install -m 0644 "$src/conffiles" "$pkg/DEBIAN/conffiles"

# Shared libraries the binary needs, as package dependencies (libc6 (>= ...), ...).
mkdir -p "$stage/shlibs/debian"
printf 'Source: itarvault\n\nPackage: itarvault\nArchitecture: any\n' > "$stage/shlibs/debian/control"
depends=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$pkg/usr/bin/itarvault" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies for the binary" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$src/control.in" > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

# Same inputs, same bytes: fixed timestamps, root ownership, sorted entries.
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb="$out/itarvault_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
echo "$deb"
