#!/bin/bash
# Which read-only filesystem for /usr: builds erofs and squashfs images of one /usr tree with the
# reproducibility options coresdk uses and prints, per variant, the image size, the build time of
# each run, the compression ratio (file bytes / image bytes), the time to read everything back in
# user space (a proxy for decompression cost at boot) and whether the runs were byte-identical.
#
#   bench/usr-filesystem.sh [USR_DIR]
#
# Without USR_DIR, ./usr is extracted from /tmp/mm/rootfs.tar (an mmdebstrap tarball).
# RUNS=n builds each variant n times (default 2; at least 2 so identity can be checked).
set -euo pipefail
RUNS=${RUNS:-2}
EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
UUID=6f1d2c3b-4a59-5e6f-8a7b-0c1d2e3f4a5b
SCRATCH=$(mktemp -d /tmp/usr-filesystem-bench.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

if [[ $# -ge 1 ]]; then
  TREE=$1
elif [[ -f /tmp/mm/rootfs.tar ]]; then
  tar -x --numeric-owner -f /tmp/mm/rootfs.tar -C "$SCRATCH" ./usr
  TREE=$SCRATCH/usr
else
  echo "usage: $0 USR_DIR   (or provide /tmp/mm/rootfs.tar)" >&2
  exit 2
fi

# The same measure as Filesystems.TreeSize: regular-file bytes (hard links once) + symlink targets.
content=$(find "$TREE" \( -type f -o -type l \) -printf '%i %s\n' | sort -u -k1,1 | awk '{s += $2} END {print s}')
files=$(find "$TREE" | wc -l)
echo "tree: $TREE — $files entries, $content bytes ($(awk -v b="$content" 'BEGIN {printf "%.1f", b / 1048576}') MiB) of file content"
mkdir "$SCRATCH/empty"
echo "tools: $(mkfs.erofs "$SCRATCH/version.img" "$SCRATCH/empty" 2>&1 | head -1), $(mksquashfs -version | head -1 | cut -d' ' -f1-3), $(nproc) cores"
echo

seconds() { awk -v ns="$1" 'BEGIN {printf "%.1f", ns / 1e9}'; }

# bench NAME EXTRACT-KIND BUILD-COMMAND... (the command writes "$OUT")
bench() {
  local name=$1 kind=$2; shift 2
  local times=() sums=() size=0 start
  for run in $(seq "$RUNS"); do
    OUT=$SCRATCH/$name.$run.img
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    times+=("$(seconds $(( $(date +%s%N) - start )))")
    sums+=("$(sha256sum "$OUT" | cut -c1-16)")
    size=$(stat -c %s "$OUT")
  done
  local identical=yes
  for s in "${sums[@]}"; do [[ $s == "${sums[0]}" ]] || identical=NO; done
  # Into tmpfs where there is one, so the figure is decompression, not disk writes.
  local into; into=$(mktemp -d "$( [[ -d /dev/shm ]] && echo /dev/shm || echo "$SCRATCH")/usr-extract.XXXXXX")
  rmdir "$into"
  start=$(date +%s%N)
  case $kind in
    erofs) fsck.erofs --extract="$into" "$OUT" >/dev/null 2>&1 ;;
    squashfs) unsquashfs -q -no-progress -d "$into" "$OUT" >/dev/null 2>&1 ;;
  esac
  local extract; extract=$(seconds $(( $(date +%s%N) - start )))
  rm -rf "$into" "$SCRATCH/$name".*.img
  printf '%-36s %9.1f MiB %8.2f x  build %-18s extract %5s s  identical: %s\n' "$name" \
    "$(awk -v b="$size" 'BEGIN {print b / 1048576}')" "$(awk -v c="$content" -v b="$size" 'BEGIN {print c / b}')" \
    "$(IFS=/; echo "${times[*]}") s" "$extract" "$identical"
}

mkerofs() { mkfs.erofs --quiet -T"$EPOCH" -U"$UUID" "$@" "$OUT" "$TREE"; }
mksqfs() { mksquashfs "$TREE" "$OUT" -noappend -quiet -no-progress -mkfs-time "$EPOCH" -all-time "$EPOCH" "$@"; }

bench "erofs uncompressed"                 erofs    mkerofs
bench "erofs lz4hc"                        erofs    mkerofs -zlz4hc
bench "erofs lz4hc -C65536 ztailpacking"   erofs    mkerofs -zlz4hc -C65536 -Eztailpacking
bench "erofs lz4hc,12 -C65536 ztailpacking" erofs   mkerofs -zlz4hc,12 -C65536 -Eztailpacking
bench "squashfs gzip"                      squashfs mksqfs -comp gzip
bench "squashfs zstd level 3"              squashfs mksqfs -comp zstd -Xcompression-level 3
bench "squashfs zstd level 9"              squashfs mksqfs -comp zstd -Xcompression-level 9
bench "squashfs zstd (default, level 15)"  squashfs mksqfs -comp zstd
bench "squashfs zstd level 19"             squashfs mksqfs -comp zstd -Xcompression-level 19
bench "squashfs xz"                        squashfs mksqfs -comp xz
bench "squashfs xz -Xbcj x86"              squashfs mksqfs -comp xz -Xbcj x86

# The dm-verity tree is appended to whichever is chosen; its cost is the same for both.
OUT=$SCRATCH/verity.img
mkerofs -zlz4hc
size=$(stat -c %s "$OUT")
start=$(date +%s%N)
veritysetup format --hash=sha256 --data-block-size 4096 --hash-block-size 4096 \
  --data-blocks $(( size / 4096 )) --hash-offset "$size" --salt 00 --uuid "$UUID" "$OUT" "$OUT" >/dev/null
echo
echo "dm-verity tree for the erofs lz4hc image: $(seconds $(( $(date +%s%N) - start ))) s, $(( $(stat -c %s "$OUT") - size )) bytes"
