#!/bin/bash
# Prints how long `coresdk inject cloud-config` takes on the default board's image at its built
# size and grown to 40 GiB, raw and qcow2: the time must not grow with the disk.
# Usage: bench/inject.sh [IMAGE.bin]   (default: builds the default board's image into out/)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/default-image.sh "$@"
scratch=$(mktemp -d /tmp/coresdk-inject-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

ssh-keygen -q -t ed25519 -N "" -f "$scratch/key"
cat >"$scratch/cloud-config.yml" <<'YAML'
#cloud-config
hostname: bench
coreos:
  units:
    - name: hello.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/echo hello
YAML

cp --sparse=always "$image" "$scratch/small.bin"
cp --sparse=always "$image" "$scratch/large.bin"
truncate -s 40G "$scratch/large.bin"
sfdisk --quiet --relocate gpt-bak-std "$scratch/large.bin" 2>/dev/null   # the backup GPT at the new end, as after a resize
for size in small large; do
  qemu-img convert -f raw -O qcow2 "$scratch/$size.bin" "$scratch/$size.qcow2"
done

# Median of five runs, in milliseconds.
median_ms() {
  local times=() start
  for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    "$CORESDK" inject cloud-config "$1" "$scratch/cloud-config.yml" --ssh-key "$scratch/key.pub" >/dev/null
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

for file in small.bin large.bin small.qcow2 large.qcow2; do
  gib=$(qemu-img info --output=json "$scratch/$file" | python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["virtual-size"] / 2**30))')
  printf 'inject cloud-config %-12s %5s GiB disk: %5d ms (median of 5)\n' "$file" "$gib" "$(median_ms "$scratch/$file")"
done
