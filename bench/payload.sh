#!/bin/bash
# Prints update payload generation throughput (MB/s of USR partition input) against `bzip2 -9` of
# the same bytes on one core, the payload's size against the USR image's, and verify/apply times.
# Usage: bench/payload.sh [IMAGE.bin]   (default: builds the default board's image into out/)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/default-image.sh "$@"
scratch=$(mktemp -d /tmp/coresdk-payload-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
mbps() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1e6 / (int(sys.argv[2]) / 1000)))' "$1" "$2"; }

"$CORESDK" keys generate --private-key "$scratch/key.pem" --public-key "$scratch/key.pub.pem" >/dev/null
start=$(date +%s%N)
"$CORESDK" payload generate --image "$image" --private-key "$scratch/key.pem" --output "$scratch/update.gz" >/dev/null
generate=$(ms "$start")

# The same bytes the payload is made of: the USR-A partition.
read -r first sectors < <(sfdisk --json "$image" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["partitiontable"]["partitions"] if p["name"] == "USR-A"][0]
print(p["start"], p["size"])')
dd if="$image" of="$scratch/usr.img" bs=512 skip="$first" count="$sectors" conv=sparse status=none
usr_bytes=$(stat -c %s "$scratch/usr.img")
start=$(date +%s%N)
bzip2 -9 -c "$scratch/usr.img" >"$scratch/usr.img.bz2"
bzip=$(ms "$start")

start=$(date +%s%N)
"$CORESDK" payload verify "$scratch/update.gz" --public-key "$scratch/key.pub.pem" >/dev/null
verify=$(ms "$start")
cp --sparse=always "$image" "$scratch/machine.bin"
start=$(date +%s%N)
"$CORESDK" payload apply "$scratch/machine.bin" "$scratch/update.gz" --public-key "$scratch/key.pub.pem" >/dev/null
apply=$(ms "$start")

payload_bytes=$(stat -c %s "$scratch/update.gz")
echo "USR partition: $usr_bytes bytes ($(du -k "$scratch/usr.img" | cut -f1) KiB allocated)"
echo "payload generate: $((generate / 1000)).$((generate % 1000 / 100)) s, $(mbps "$usr_bytes" "$generate") MB/s of USR input on $(nproc) cores"
echo "bzip2 -9, one core: $((bzip / 1000)).$((bzip % 1000 / 100)) s, $(mbps "$usr_bytes" "$bzip") MB/s"
echo "payload size: $payload_bytes bytes ($(python3 -c "print('%.1f' % ($payload_bytes * 100 / $usr_bytes))") % of the USR image; bzip2 -9 alone: $(stat -c %s "$scratch/usr.img.bz2") bytes)"
echo "payload verify: $((verify / 1000)).$((verify % 1000 / 100)) s; apply (verify + write USR-B, ESP, GPT): $((apply / 1000)).$((apply % 1000 / 100)) s"
