#!/usr/bin/env bash
# The main job on a fresh machine: build itarvault, create a keystore and a key in
# ./itarvault-demo, store a labelled file as an envelope and read it back.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p itarvault-cli
bin=target/release/itarvault
demo=itarvault-demo
mkdir -p "$demo"
export ITARVAULT_KEYSTORE="$demo/keystore.json"
# Demo only: real use keeps the passphrase in a 0600 file or types it at the prompt.
export ITARVAULT_PASSPHRASE="${ITARVAULT_PASSPHRASE:-demo passphrase, change me}"

"$bin" version
[ -f "$ITARVAULT_KEYSTORE" ] || "$bin" keys init
"$bin" keys show demo >/dev/null 2>&1 || "$bin" keys create demo
printf 'Turbine blade cooling passages, rev C\n' > "$demo/blade.txt"
"$bin" encrypt --force --label 'ITAR:XIX;CUI//SP-EXPT' --key demo "$demo/blade.txt" "$demo/blade.txt.itv"
"$bin" inspect "$demo/blade.txt.itv"
"$bin" decrypt --force "$demo/blade.txt.itv" "$demo/blade.out.txt"
cmp "$demo/blade.txt" "$demo/blade.out.txt"
echo "ok: stored and read back $demo/blade.txt through an envelope"
