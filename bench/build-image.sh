#!/bin/bash
# Prints cold and warm build times of the default board, each output's size (apparent and on
# disk) and the /usr filesystem's compression ratio. Uses a scratch output and cache directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BOARD=${BOARD:-amd64-usr}
CORESDK=${CORESDK:-.build/release/coresdk}
SCRATCH=$(mktemp -d /tmp/coresdk-bench.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

# Milliseconds a command takes; its JSON output is kept in last.json.
timed() { local start; start=$(date +%s%N); "$@" >"$SCRATCH/last.json"; echo $(( ($(date +%s%N) - start) / 1000000 )); }

cold=$(timed "$CORESDK" build image --board "$BOARD" --output "$SCRATCH/out" --cache-dir "$SCRATCH/cache" --json)
warm=$(timed "$CORESDK" build image --board "$BOARD" --output "$SCRATCH/out" --cache-dir "$SCRATCH/cache" --json)
dir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputDirectory"])' "$SCRATCH/last.json")

echo "build time cold: $((cold / 1000)).$((cold % 1000 / 100)) s"
echo "build time warm: $((warm / 1000)).$((warm % 1000 / 100)) s ($((warm * 100 / cold)) % of cold)"
for f in "$dir"/*; do
  printf '%-45s %12d bytes apparent, %10d KiB allocated\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(du -k "$f" | cut -f1)"
done
python3 - "$SCRATCH/last.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
u = r["usr"]
print(f'/usr {u["type"]}: {u["contentBytes"]} bytes of files -> {u["imageBytes"]} bytes image, ratio {u["compressionRatio"]}')
print("cold-build steps:" if not r["cache"]["hits"] else "warm-build steps:")
for t in r["timings"]:
    print(f'  {t["step"]:<55} {t["seconds"]:7.1f} s{" (cached)" if t["cached"] else ""}')
PY
