#!/bin/bash
# The in-image agents' size: coreos-agent (cloud-config, update_engine and its client, locksmithd and
# locksmithctl in one static binary) as the image installs it, and the shared libraries it needs
# beyond glibc, which the image carries anyway (openssh needs libcrypto). The issue's budget: 24 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-bench-agents
if ! log=$(swift build -c release --static-swift-stdlib --product coreos-agent --scratch-path "$scratch" \
  -Xlinker --strip-all -Xlinker --build-id=none 2>&1); then
  echo "$log" >&2
  exit 1
fi
binary="$scratch/release/coreos-agent"
size=$(stat -c %s "$binary")
printf 'coreos-agent (all agents, stripped, static Swift runtime): %d bytes (%.1f MiB)\n' "$size" "$(echo "$size/1048576" | bc -l)"
echo "shared libraries it loads besides glibc:"
ldd "$binary" | awk '$3 ~ /^\// && $1 !~ /^(libc\.so|libm\.so|ld-linux)/ {print $1, $3}' | while read -r name path; do
  # Debian lists files under /lib or /usr/lib (merged /usr): ask for both.
  file=$(readlink -f "$path")
  package=$(dpkg -S "$file" "${file#/usr}" 2>/dev/null | cut -d: -f1 | head -1 || true)
  printf '  %-20s %8d bytes (Debian package %s)\n' "$name" "$(stat -L -c %s "$path")" "${package:-?}"
done
budget=$((24 * 1048576))
[ "$size" -le "$budget" ] && echo "within the 24 MiB budget ($((budget - size)) bytes to spare)" || echo "OVER the 24 MiB budget"
