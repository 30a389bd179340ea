#!/usr/bin/env bash
# Test for recipes/lib/gpt, the GPT code that coreos-boot, coreos-init-helper
# and coreos-gptprio compile in:
# 1. gpt.c compiles freestanding (only the compiler's own headers) and calls
#    nothing, as the UEFI build needs; samples/gpt-sample builds without
#    warnings;
# 2. the golden samples (tables written by the real sfdisk and sgdisk, some
#    damaged; samples/sample.sh) read as their .expected files say, with the
#    rules of each program: the loader's and the initramfs's fall back to
#    the backup, coreos-gptprio's refuse anything but two good copies;
# 3. writing both copies back (what the programs do when they write) repairs
#    a damaged copy to exactly the bytes the tool wrote, which sfdisk
#    --verify and sgdisk -v accept.
#
# Needs: bash, cc, nm, sfdisk (Debian fdisk), sgdisk (gdisk), coreutils, cmp.
# Prints "N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trap 'echo "test.sh: unexpected error at line $LINENO" >&2' ERR

for tool in cc nm sfdisk sgdisk od dd truncate cmp; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test.sh: required tool '$tool' is not installed" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpt-lib-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

source "$here/../../../scripts/test-report.sh"
# run CMD...: sets $rc, output in $tmp/out and $tmp/err
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }
sample=$here/samples/sample.sh

# ---------------------------------------------------------------- 1. build
# The UEFI build's flags (recipes/coreos-boot/src/Makefile), and no C
# library headers: -nostdinc leaves only the compiler's freestanding ones.
freestanding=(-std=gnu11 -ffreestanding -nostdinc -isystem "$(cc -print-file-name=include)"
	-fpic -fshort-wchar -mno-red-zone -fno-stack-protector -Wall -Wextra -Werror)
for opt in -O2 -Os -O3; do
	run cc "${freestanding[@]}" "$opt" -c -o "$tmp/gpt$opt.o" "$here/gpt.c"
	check "gpt.c compiles freestanding ($opt)" 0 "$rc"
	[[ $rc == 0 ]] || cat "$tmp/err"
	undefined=$(nm -u "$tmp/gpt$opt.o" 2>/dev/null | awk '$2 != "_GLOBAL_OFFSET_TABLE_" { print $2 }' | tr '\n' ' ')
	check "gpt.c ($opt) calls no function it does not define (no memcpy, memset, ...)" "" "$undefined"
done
run cc -std=c11 -O2 -Wall -Wextra -Werror -I"$here" -o "$tmp/gpt-sample" \
	"$here/samples/gpt-sample.c" "$here/gpt.c" "$here/fdio.c"
check "samples/gpt-sample builds without warnings" 0 "$rc"
[[ $rc == 0 ]] || { cat "$tmp/err"; report; exit 1; }
G=$tmp/gpt-sample

# ---------------------------------------------------------------- 2. the golden samples
names=$(bash "$sample" list)
check "there are golden samples from sfdisk and sgdisk" yes \
	"$(ls "$here"/samples/*.sfdisk >/dev/null && ls "$here"/samples/*.sgdisk >/dev/null && echo yes)"
for name in $names; do
	img=$tmp/$name.img
	bash "$sample" make "$name" "$img"
	expected=$(bash "$sample" expected "$name")
	usable=0
	grep -qx 'use none' <<<"$expected" || usable=1
	for rules in boot init; do
		run "$G" --rules "$rules" "$img"
		check "$name: read with the $rules rules as expected" "$expected" "$(cat "$tmp/out")"
		check "$name: $rules rules exit status" "$((usable ? 0 : 2))" "$rc"
	done
	run "$G" --rules gptprio "$img"
	if grep -qx 'primary ok' <<<"$expected" && grep -qx 'backup ok' <<<"$expected"; then
		check "$name: read with coreos-gptprio's rules as expected" "$expected" "$(cat "$tmp/out")"
	else
		check "$name: coreos-gptprio's rules refuse a damaged copy" "2 use none" "$rc $(sed -n 3p "$tmp/out")"
	fi
done

# ---------------------------------------------------------------- 3. writing
# gpt_sectors IMG: LBA 1-33 and the last 33 sectors (both copies, standard
# 128-entry layout; smaller tables leave zeros there).
gpt_sectors() {
	local n=$(($(stat -c %s "$1") / 512))
	{
		dd if="$1" bs=512 skip=1 count=33 status=none
		dd if="$1" bs=512 skip=$((n - 33)) count=33 status=none
	} | sha256sum | cut -d' ' -f1
}
for name in $names; do
	expected=$(bash "$sample" expected "$name")
	grep -qx 'use none' <<<"$expected" && continue
	img=$tmp/$name.img
	bash "$sample" make "$name" "$img"
	bash "$sample" make "$name" "$tmp/intact.img" --intact
	run "$G" --repair "$img"
	check "$name: after writing both copies they are valid and hold the table" \
		"$(sed -e 's/^primary .*/primary ok/' -e 's/^backup .*/backup ok/' -e 's/^use .*/use primary/' <<<"$expected")" \
		"$(cat "$tmp/out")"
	check "$name: both copies are now the bytes the tool wrote" "$(gpt_sectors "$tmp/intact.img")" "$(gpt_sectors "$img")"
	run sfdisk --verify "$img"
	# (the first line names the image, whose name may say "crc")
	if [[ $rc == 0 ]] && ! grep -hv "^$img:" "$tmp/out" "$tmp/err" | grep -qiE 'corrupt|crc|invalid|mismatch|differ'; then
		ok "$name: sfdisk --verify is clean after writing"
	else not_ok "$name: sfdisk --verify is clean after writing" "$(cat "$tmp/out" "$tmp/err")"; fi
	run sgdisk -v "$img"
	if [[ $rc == 0 ]] && grep -q 'No problems found' "$tmp/out"; then ok "$name: sgdisk -v finds no problems after writing"; else
		not_ok "$name: sgdisk -v finds no problems after writing" "$(cat "$tmp/out" "$tmp/err")"; fi
done

report || exit 1
