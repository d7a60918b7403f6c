#!/usr/bin/env bash
# The main job on a fresh machine: build itarvault (the FIPS build, as released), start
# the vault server on its embedded defaults (SQLite, local blobs, local keystore, audit
# log, self-signed TLS) in ./itarvault-demo, store a labelled file as a US person and read it back, show
# that a foreign person and a US person abroad are refused, and verify the audit trail.
#
# The demo plays people in other countries from other loopback addresses: its ranges
# file places 127.0.0.1 in the US and 127.0.0.2 in China (a 22 CFR 126.1 country).
# Each run starts from a fresh demo data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p itarvault-cli --features fips
bin="$PWD/target/release/itarvault"
demo="$PWD/itarvault-demo"
port="${ITARVAULT_DEMO_PORT:-8443}"

rm -rf "$demo/data" "$demo"/*.tok
mkdir -p "$demo"
printf 'cidr,country\n127.0.0.1/32,US\n127.0.0.2/32,CN\n' > "$demo/ranges.csv"
cat > "$demo/config.toml" <<EOF
data_dir = "$demo/data"
listen = "127.0.0.1:$port"
[location]
ranges_file = "$demo/ranges.csv"
EOF

"$bin" version
"$bin" version --json | python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v["fips_mode"] and v["validated"] else "the FIPS module is not active and validated")'
"$bin" server --config "$demo/config.toml" --admin-token-file "$demo/admin.tok" 2> "$demo/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$demo/server.log" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$demo/server.log" >&2; exit 1; }
  sleep 0.1
done
grep -v '^{' "$demo/server.log" | grep -v "^    itv_" || true

export ITARVAULT_SERVER="https://127.0.0.1:$port"
export ITARVAULT_CACERT="$demo/data/tls/cert.pem"
as() { local who=$1; shift; ITARVAULT_TOKEN_FILE="$demo/$who.tok" "$bin" "$@"; }
token() { (umask 077; as admin tokens create "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$demo/$1.tok"); }

as admin buckets create designs >/dev/null
as admin principals add alice --status us_citizen --citizenship US >/dev/null
as admin principals add bob --status foreign_person --citizenship CN >/dev/null
token alice
token bob

printf 'Turbine blade cooling passages, rev C\n' > "$demo/blade.txt"
as alice put designs/engines/blade.txt "$demo/blade.txt" --label 'ITAR:XIX;CUI//SP-EXPT'
as alice get --force designs/engines/blade.txt "$demo/blade.out.txt"
cmp "$demo/blade.txt" "$demo/blade.out.txt"

echo "--- bob, a Chinese national in the US (a deemed export, 22 CFR 120.56):"
if as bob get designs/engines/blade.txt - >/dev/null; then echo "bob was NOT refused" >&2; exit 1; fi
echo "--- alice, a US citizen connecting from China (22 CFR 126.1):"
if as alice get --source-address 127.0.0.2 designs/engines/blade.txt - >/dev/null; then echo "alice abroad was NOT refused" >&2; exit 1; fi

echo "--- a document marked USML Category XIX uploaded as EAR99 (the content check):"
printf 'EXPORT CONTROLLED\nUSML Category XIX(f)\nSeal geometry, rev A\n' > "$demo/seal.txt"
"$bin" scan "$demo/seal.txt" || true
if as alice put designs/engines/seal.txt "$demo/seal.txt" --label EAR99; then echo "the mislabelled upload was NOT refused" >&2; exit 1; fi

echo "--- the audit trail:"
"$bin" audit query --data-dir "$demo/data" --kind object.get
"$bin" audit verify --data-dir "$demo/data"
echo "ok: stored and read designs/engines/blade.txt as a US person; the foreign person, the person abroad and the mislabelled upload were refused; the audit trail is intact"
