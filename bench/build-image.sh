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

# Milliseconds a build takes; its JSON report is kept in $SCRATCH/<name>.json.
timed() {
  local name=$1 start; shift
  start=$(date +%s%N); "$@" >"$SCRATCH/$name.json"; echo $(( ($(date +%s%N) - start) / 1000000 ))
}

build=("$CORESDK" build image --board "$BOARD" --output "$SCRATCH/out" --cache-dir "$SCRATCH/cache" --json)
cold=$(timed cold "${build[@]}")
warm=$(timed warm "${build[@]}")
dir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputDirectory"])' "$SCRATCH/warm.json")

echo "build time cold: $((cold / 1000)).$((cold % 1000 / 100)) s"
echo "build time warm: $((warm / 1000)).$((warm % 1000 / 100)) s ($((warm * 100 / cold)) % of cold)"
for f in "$dir"/*; do
  printf '%-45s %12d bytes apparent, %10d KiB allocated\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(du -k "$f" | cut -f1)"
done
python3 - "$SCRATCH/cold.json" "$SCRATCH/warm.json" <<'PY'
import json, sys
cold, warm = (json.load(open(path)) for path in sys.argv[1:3])
u = cold["usr"]
print(f'/usr {u["type"]}: {u["contentBytes"]} bytes of files -> {u["imageBytes"]} bytes image, ratio {u["compressionRatio"]}')
for name, report in (("cold", cold), ("warm", warm)):
    print(f"{name}-build steps:")
    for t in report["timings"]:
        print(f'  {t["step"]:<55} {t["seconds"]:7.1f} s{" (cached)" if t["cached"] else ""}')
PY
