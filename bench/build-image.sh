#!/bin/bash
# Prints cold and warm build times of the default board, the --dry-run time, each output's size
# (apparent and on disk) and the /usr filesystem's compression ratio. Uses a scratch output and
# cache directory. BENCH_USER=NAME (run as root; a user with subordinate ids who can read this
# tree) times the same cold and warm builds as that unprivileged user, in a user namespace.
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

dry=$(timed dry "${build[@]}" --dry-run)

echo "build time cold: $((cold / 1000)).$((cold % 1000 / 100)) s"
echo "build time warm: $((warm / 1000)).$((warm % 1000 / 100)) s ($((warm * 100 / cold)) % of cold)"
echo "dry run (plan, keys, hits): $((dry / 1000)).$((dry % 1000 / 100)) s"
if [ -n "${BENCH_USER:-}" ]; then
  user_scratch=$(runuser -u "$BENCH_USER" -- mktemp -d)
  as_user=(runuser -u "$BENCH_USER" -- env SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$(readlink -f "$CORESDK")" build image
           --board "$BOARD" --repo "$PWD" --output "$user_scratch/out" --cache-dir "$user_scratch/cache" --json)
  user_cold=$(timed user-cold "${as_user[@]}")
  user_warm=$(timed user-warm "${as_user[@]}")
  echo "unprivileged ($BENCH_USER) cold: $((user_cold / 1000)).$((user_cold % 1000 / 100)) s"
  echo "unprivileged ($BENCH_USER) warm: $((user_warm / 1000)).$((user_warm % 1000 / 100)) s ($((user_warm * 100 / user_cold)) % of cold)"
  raw() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["outputDirectory"] + "/" + next(f["name"] for f in r["files"] if f["role"] == "raw-disk"))' "$1"; }
  cmp -s "$(raw "$SCRATCH/user-warm.json")" "$(raw "$SCRATCH/warm.json")" \
    && echo "unprivileged raw disk: identical to root's" || echo "unprivileged raw disk: differs from root's"
  runuser -u "$BENCH_USER" -- rm -rf "$user_scratch"
fi
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
