#!/usr/bin/env bash
# Test for the gptprio recipe: builds coreos-gptprio from src/ in a temporary
# directory, then checks it on GPT image files against the reference tools:
# cgpt (reads and writes the same attribute bits, and `cgpt prioritize` on
# ChromeOS-kernel-type entries is the oracle for our usr-type prioritize),
# sfdisk (--json attrs, --verify) and sgdisk -v when it is installed.
#
# Needs: bash, make, cc, sfdisk (Debian fdisk), cgpt, coreutils, cmp, awk.
# Prints "N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trap 'echo "test.sh: unexpected error at line $LINENO" >&2' ERR

for tool in make cc sfdisk cgpt sha256sum truncate cmp awk dd; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test.sh: required tool '$tool' is not installed" >&2
		exit 1
	fi
done
have_sgdisk=0
command -v sgdisk >/dev/null 2>&1 && have_sgdisk=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gptprio-test.XXXXXX")
loopdev=""
cleanup() {
	if [[ -n "$loopdev" ]]; then losetup -d "$loopdev" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

source "$(dirname "$(readlink -f "$0")")/../../scripts/test-report.sh"
skip=0
# run CMD...: sets $rc, output in $tmp/out and $tmp/err
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

USR=5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6
KERN=FE3A2A5D-4F32-41A7-B725-ACCC3285A309 # ChromeOS kernel (cgpt prioritize)
DATA=0FC63DAF-8483-4772-8E79-3D69D8477DE4
UUID_A=7130C94A-213A-4E5A-8E26-6CCE9662F132
UUID_B=E03DD35C-7C2D-4A47-B3FE-27F15780A57C
UUID_C=1E7C1A33-4D0C-4E2B-9A66-2F3C2D7B5A10
uuid_a=${UUID_A,,}
uuid_b=${UUID_B,,}
uuid_c=${UUID_C,,}

# ---------------------------------------------------------------- build
# Each build directory gets the GPT library where the recipe build puts it:
# ../lib/gpt next to src (recipes/lib/gpt, the recipe's `libraries`).
mkdir -p "$tmp/b1" "$tmp/another/path/b2" "$tmp/lib" "$tmp/another/path/lib"
cp -R "$here/src/." "$tmp/b1/"
cp -R "$here/src/." "$tmp/another/path/b2/"
cp -R "$here/../lib/gpt" "$tmp/lib/"
cp -R "$here/../lib/gpt" "$tmp/another/path/lib/"
run make -C "$tmp/b1"
check "make builds" 0 "$rc"
[[ $rc == 0 ]] || { cat "$tmp/out" "$tmp/err"; exit 1; }
run make -C "$tmp/b1" install DESTDIR="$tmp/root" PREFIX=/usr
check "make install exits 0" 0 "$rc"
G=$tmp/root/usr/bin/coreos-gptprio
if [[ -x "$G" && -f "$G" ]]; then ok "installed as /usr/bin/coreos-gptprio"; else
	not_ok "installed as /usr/bin/coreos-gptprio" "$(find "$tmp/root" -print)"
	exit 1
fi
run make -C "$tmp/another/path/b2"
check "second build in another directory" 0 "$rc"
check "build is reproducible across directories" \
	"$(sha "$tmp/b1/coreos-gptprio")" "$(sha "$tmp/another/path/b2/coreos-gptprio")"
check "binary does not embed the build directory" 0 \
	"$(grep -c -a -F "$tmp" "$tmp/b1/coreos-gptprio" || true)"
check "source uses no __DATE__/__TIME__" 0 \
	"$(grep -c -E '__(DATE|TIME|TIMESTAMP)__' "$here/src/gptprio.c" || true)"
run make -C "$tmp/b1" -B -n CC=my-cc CFLAGS=-DMY_CFLAGS
if grep -q '^my-cc .*-ffile-prefix-map=.*-DMY_CFLAGS' "$tmp/out"; then
	ok "Makefile honours CC and CFLAGS and keeps -ffile-prefix-map"
else not_ok "Makefile honours CC and CFLAGS and keeps -ffile-prefix-map" "$(cat "$tmp/out")"; fi
run make -C "$tmp/b1" -n install DESTDIR=/x PREFIX=/opt/p
if grep -q '/x/opt/p/bin/coreos-gptprio' "$tmp/out"; then ok "install honours DESTDIR and PREFIX"; else
	not_ok "install honours DESTDIR and PREFIX" "$(cat "$tmp/out")"; fi

# ---------------------------------------------------------------- helpers
# mkimg IMG TYPE N...: 64 MiB sparse GPT image; partition 1 linux data,
# partitions N... of TYPE (3=USR-A, 4=USR-B, 5=USR-C, others USR-<n>).
mkimg() {
	local img=$1 type=$2 start=10240 n name uuid
	shift 2
	rm -f "$img"
	truncate -s 64M "$img"
	{
		echo "label: gpt"
		echo "unit: sectors"
		echo "${img}1 : start=2048, size=8192, type=$DATA, name=DATA"
		for n in "$@"; do
			case $n in
			3) name=USR-A uuid=", uuid=$UUID_A" ;;
			4) name=USR-B uuid=", uuid=$UUID_B" ;;
			5) name=USR-C uuid=", uuid=$UUID_C" ;;
			*) name=USR-$n uuid="" ;;
			esac
			echo "${img}${n} : start=$start, size=2048, type=$type, name=$name$uuid"
			start=$((start + 2048))
		done
	} | sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null
}
# cg IMG N -> "P/T/S" as cgpt reads it
cg() {
	echo "$(cgpt show -i "$2" -P "$1")/$(cgpt show -i "$2" -T "$1")/$(cgpt show -i "$2" -S "$1")"
}
# sfattrs IMG N -> the "attrs" string sfdisk --json prints for partition N
sfattrs() {
	sfdisk --json "$1" | awk -v node="$1$2" '
		/"node":/ { cur = $0; sub(/.*"node": *"/, "", cur); sub(/".*/, "", cur) }
		/"attrs":/ && cur == node { a = $0; sub(/.*"attrs": *"/, "", a); sub(/".*/, "", a); print a }'
}
# attrs_of P T S -> the attrs string sfdisk should print
attrs_of() {
	local p=$1 t=$2 s=$3 b bits=()
	for b in 0 1 2 3; do (((p >> b) & 1)) && bits+=($((48 + b))); done
	for b in 0 1 2 3; do (((t >> b) & 1)) && bits+=($((52 + b))); done
	((s)) && bits+=(56)
	if ((${#bits[@]})); then
		local IFS=,
		echo "GUID:${bits[*]}"
	fi
}
# expect_bits NAME IMG N P T S: check both cgpt and sfdisk see P/T/S
expect_bits() {
	check "$1: cgpt reads partition $3 as $4/$5/$6" "$4/$5/$6" "$(cg "$2" "$3")"
	check "$1: sfdisk --json attrs of partition $3" "$(attrs_of "$4" "$5" "$6")" "$(sfattrs "$2" "$3")"
}
# verify IMG NAME: the table (both copies) passes every verifier we have
verify() {
	local img=$1 what=$2 nsec
	run sfdisk --verify "$img"
	if [[ $rc == 0 ]] && ! grep -qiE 'corrupt|crc|invalid|mismatch|differ' "$tmp/out" "$tmp/err"; then
		ok "$what: sfdisk --verify is clean"
	else not_ok "$what: sfdisk --verify is clean" "rc=$rc" "$(cat "$tmp/out" "$tmp/err")"; fi
	if ((have_sgdisk)); then
		run sgdisk -v "$img"
		if [[ $rc == 0 ]] && grep -q 'No problems found' "$tmp/out" &&
			! grep -qiE 'crc|corrupt|invalid|error|differ' "$tmp/out" "$tmp/err"; then
			ok "$what: sgdisk -v finds no problems"
		else not_ok "$what: sgdisk -v finds no problems" "rc=$rc" "$(cat "$tmp/out" "$tmp/err")"; fi
	fi
	run cgpt show "$img"
	if [[ $rc == 0 ]] && ! grep -qiE 'warning|invalid' "$tmp/out" "$tmp/err"; then
		ok "$what: cgpt show sees valid headers and entries"
	else not_ok "$what: cgpt show sees valid headers and entries" "$(cat "$tmp/out" "$tmp/err")"; fi
	# The backup entry array (sfdisk puts it right before the last sector)
	# must equal the primary one byte for byte.
	nsec=$(($(stat -c %s "$img") / 512))
	if cmp -s <(dd if="$img" bs=512 skip=2 count=32 status=none) \
		<(dd if="$img" bs=512 skip=$((nsec - 33)) count=32 status=none); then
		ok "$what: backup entry array equals the primary one"
	else not_ok "$what: backup entry array equals the primary one"; fi
}
# only_allowed_bytes_changed OLD NEW: every differing byte is an attribute
# byte (48..55) of an entry or a CRC field (16..19, 88..91) of a header.
only_allowed_bytes_changed() {
	local nsec=$(($(stat -c %s "$1") / 512))
	{ cmp -l "$1" "$2" || true; } | awk -v nsec="$nsec" '
		{ o = $1 - 1
		  ph = 512; pe = 1024; bh = (nsec - 1) * 512; be = (nsec - 33) * 512
		  if (o >= ph && o < ph + 512) { r = o - ph; if ((r >= 16 && r < 20) || (r >= 88 && r < 92)) next }
		  if (o >= bh && o < bh + 512) { r = o - bh; if ((r >= 16 && r < 20) || (r >= 88 && r < 92)) next }
		  if (o >= pe && o < pe + 16384) { r = (o - pe) % 128; if (r >= 48 && r < 56) next }
		  if (o >= be && o < be + 16384) { r = (o - be) % 128; if (r >= 48 && r < 56) next }
		  printf "byte %d changed\n", o; bad = 1 }
		END { exit bad }'
}
# flip IMG OFFSET: xor one byte with 0xff
flip() {
	local v
	v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((v ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---------------------------------------------------------------- show
img=$tmp/disk.img
mkimg "$img" "$USR" 3 4
cgpt add -i 3 -P 1 -S 1 -T 0 "$img"
cgpt add -i 1 -P 7 -T 3 "$img" # bits on a non-usr entry must never move
pristine=$tmp/pristine.img
cp --sparse=always "$img" "$pristine"
run "$G" show "$img"
check "show exits 0" 0 "$rc"
check "show prints the usr partitions with their bits" \
	"3 USR-A $uuid_a priority=1 tries=0 successful=1
4 USR-B $uuid_b priority=0 tries=0 successful=0" "$(cat "$tmp/out")"
cgpt add -i 4 -P 15 -T 9 -S 1 "$img"
run "$G" show "$img"
check "show reads values cgpt wrote (15/9/1)" \
	"4 USR-B $uuid_b priority=15 tries=9 successful=1" "$(sed -n 2p "$tmp/out")"
before=$(sha "$img")
run "$G" show "$img"
check "show does not modify the image" "$before" "$(sha "$img")"
cp --sparse=always "$pristine" "$img"

# ---------------------------------------------------------------- set
run "$G" set "$img" 4 --priority 2 --tries 1 --successful 0
check "set exits 0" 0 "$rc"
expect_bits "set 4 2/1/0" "$img" 4 2 1 0
expect_bits "set leaves USR-A alone" "$img" 3 1 0 1
expect_bits "set leaves the data partition alone" "$img" 1 7 3 0
verify "$img" "after set"
if out=$(only_allowed_bytes_changed "$pristine" "$img"); then ok "set changed only attribute and CRC bytes"; else
	not_ok "set changed only attribute and CRC bytes" "$out"; fi
# cgpt as the oracle: the same change made by cgpt gives the same bytes
ref=$tmp/ref.img
cp --sparse=always "$pristine" "$ref"
cgpt add -i 4 -P 2 -T 1 -S 0 "$ref"
if cmp -s "$img" "$ref"; then ok "set gives exactly the bytes cgpt add -P2 -T1 -S0 gives"; else
	not_ok "set gives exactly the bytes cgpt add -P2 -T1 -S0 gives" "$(cmp -l "$img" "$ref" | head)"; fi
run "$G" set "$img" 4 --tries=15
expect_bits "set --tries=15 changes only tries" "$img" 4 2 15 0
run "$G" set "$img" 4 --successful 1 --priority 0
expect_bits "set --successful 1 --priority 0" "$img" 4 0 15 1
before=$(sha "$img")
run "$G" set "$img" 4 --successful 1
check "a set that changes nothing exits 0" 0 "$rc"
check "a set that changes nothing does not write" "$before" "$(sha "$img")"

# primary wiped: cgpt falls back to the backup, which must carry the bits
cp --sparse=always "$img" "$tmp/wiped.img"
dd if=/dev/zero of="$tmp/wiped.img" bs=512 seek=1 count=1 conv=notrunc status=none
check "the backup GPT holds the written bits (read by cgpt with the primary wiped)" \
	"0/15/1" "$(cg "$tmp/wiped.img" 4 2>/dev/null)"

# ---------------------------------------------------------------- update life cycle (spec 2.4)
cp --sparse=always "$pristine" "$img"
run "$G" set "$img" 4 --successful 0 --tries 1
run "$G" prioritize "$img" 4
check "postinst: prioritize exits 0" 0 "$rc"
expect_bits "postinst: new slot" "$img" 4 2 1 0
expect_bits "postinst: old slot" "$img" 3 1 0 1
expect_bits "postinst: data partition untouched" "$img" 1 7 3 0
verify "$img" "after prioritize"
run "$G" next "$img"
check "reboot: next picks the new slot" "4 $uuid_b" "$(cat "$tmp/out")"
expect_bits "reboot: next used the try" "$img" 4 2 0 0
cp --sparse=always "$img" "$tmp/rollback.img"
run "$G" mark-good "$img" 4
check "mark-good exits 0" 0 "$rc"
expect_bits "mark-good: new slot" "$img" 4 2 0 1
expect_bits "mark-good: old slot" "$img" 3 1 0 1
expect_bits "mark-good: data partition untouched" "$img" 1 7 3 0
verify "$img" "after mark-good"
if out=$(only_allowed_bytes_changed "$pristine" "$img"); then ok "life cycle changed only attribute and CRC bytes"; else
	not_ok "life cycle changed only attribute and CRC bytes" "$out"; fi
run "$G" next "$img"
check "after mark-good next keeps booting the new slot" "4 $uuid_b" "$(cat "$tmp/out")"
# failed boot: GRUB skips the slot without tries, falls back to USR-A
run "$G" next "$tmp/rollback.img"
check "failed boot: next falls back to the old slot" "3 $uuid_a" "$(cat "$tmp/out")"
run "$G" mark-bad "$tmp/rollback.img" 4
check "mark-bad exits 0" 0 "$rc"
expect_bits "mark-bad: failed slot" "$tmp/rollback.img" 4 0 0 0
expect_bits "mark-bad: old slot untouched" "$tmp/rollback.img" 3 1 0 1
verify "$tmp/rollback.img" "after mark-bad"
# mark-good on a slot whose priority is 0 lifts it above everything
cp --sparse=always "$pristine" "$img"
run "$G" mark-good "$img" 4
expect_bits "mark-good from 0/0/0: slot" "$img" 4 2 0 1
expect_bits "mark-good from 0/0/0: other slot" "$img" 3 1 0 1
run "$G" prioritize "$img" 3
expect_bits "prioritize 3 after that: A" "$img" 3 2 0 1
expect_bits "prioritize 3 after that: B" "$img" 4 1 0 1

# ---------------------------------------------------------------- other attribute bits survive
# bit 2 (legacy BIOS bootable), 60 (read-only) and 63 (no-auto) on USR-B
mkimg "$img" "$USR" 3 4
cgpt add -i 3 -P 1 -S 1 -T 0 "$img"
cgpt add -i 4 -A 0x9000 "$img"
cgpt add -i 4 -B 1 "$img"
cp --sparse=always "$img" "$tmp/other-bits.img"
keep=()
run "$G" set "$img" 4 --priority 2 --tries 1 --successful 0
keep+=("$(sfattrs "$img" 4)")
run "$G" next "$img"
keep+=("$(sfattrs "$img" 4)")
run "$G" mark-good "$img" 4
keep+=("$(sfattrs "$img" 4)")
run "$G" prioritize "$img" 3
keep+=("$(sfattrs "$img" 4)")
run "$G" mark-bad "$img" 4
keep+=("$(sfattrs "$img" 4)")
check "bits 2, 60 and 63 survive set, next, mark-good, prioritize and mark-bad" \
	"LegacyBIOSBootable GUID:49,52,60,63|LegacyBIOSBootable GUID:49,60,63|LegacyBIOSBootable GUID:49,56,60,63|LegacyBIOSBootable GUID:48,56,60,63|LegacyBIOSBootable GUID:60,63" \
	"$(IFS='|'; echo "${keep[*]}")"
if out=$(only_allowed_bytes_changed "$tmp/other-bits.img" "$img"); then ok "those commands changed only attribute and CRC bytes"; else
	not_ok "those commands changed only attribute and CRC bytes" "$out"; fi
verify "$img" "after commands on a slot with other attribute bits"

# ---------------------------------------------------------------- next: the spec scenario
mkimg "$img" "$USR" 3 4 5
cgpt add -i 3 -P 3 -T 3 -S 0 "$img"
cgpt add -i 4 -P 2 -T 2 -S 0 "$img"
cgpt add -i 5 -P 1 -T 0 -S 1 "$img"
seq_out=()
tries_out=()
for boot in 1 2 3 4 5 6 7 8; do
	before=$(sha "$img")
	run "$G" next "$img"
	if [[ $rc != 0 ]]; then
		not_ok "next exits 0" "rc=$rc" "$(cat "$tmp/err")"
		seq_out+=("?") tries_out+=("?")
		continue
	fi
	n=$(cut -d' ' -f1 "$tmp/out")
	seq_out+=("$n")
	tries_out+=("$(cgpt show -i "$n" -T "$img")")
	if [[ $n == 5 ]]; then
		check "boot $boot: next on a successful slot without tries writes nothing" "$before" "$(sha "$img")"
	fi
done
check "next boots A three times, B twice, then C" "3 3 3 4 4 5 5 5" "${seq_out[*]}"
check "next decrements the chosen slot's tries" "2 1 0 1 0 0 0 0" "${tries_out[*]}"
check "next prints the unique GUID" "5 $uuid_c" "$(cat "$tmp/out")"
expect_bits "GRUB semantics: an exhausted slot keeps its priority (A)" "$img" 3 3 0 0
expect_bits "GRUB semantics: an exhausted slot keeps its priority (B)" "$img" 4 2 0 0
verify "$img" "after next"
run "$G" mark-bad "$img" 5
before=$(sha "$img")
run "$G" next "$img"
check "next with no bootable slot exits 1" 1 "$rc"
if grep -q 'no bootable' "$tmp/err" && [[ ! -s "$tmp/out" ]]; then ok "next with no bootable slot says so"; else
	not_ok "next with no bootable slot says so" "$(cat "$tmp/out" "$tmp/err")"; fi
check "next with no bootable slot writes nothing" "$before" "$(sha "$img")"
# ties go to the lowest-numbered entry; priority 0 is never chosen
mkimg "$img" "$USR" 3 4 5
cgpt add -i 3 -P 0 -T 5 -S 1 "$img"
cgpt add -i 4 -P 4 -T 0 -S 1 "$img"
cgpt add -i 5 -P 4 -T 2 -S 0 "$img"
run "$G" next "$img"
check "next: equal priorities go to the lowest number, priority 0 never" "4 $uuid_b" "$(cat "$tmp/out")"
# non-usr entries are never candidates
mkimg "$img" "$KERN" 3 4
cgpt add -i 3 -P 5 -T 5 -S 1 "$img"
run "$G" next "$img"
check "next ignores entries of other types" 1 "$rc"
run "$G" show "$img"
check "show lists no entries of other types" "" "$(cat "$tmp/out")"

# ---------------------------------------------------------------- prioritize vs cgpt prioritize
# Same table twice: usr type (ours) and ChromeOS kernel type (cgpt's
# prioritize works on those); random priorities; results must agree.
parts=(3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19)
mkimg "$tmp/u.img" "$USR" "${parts[@]}"
mkimg "$tmp/k.img" "$KERN" "${parts[@]}"
cgpt add -i 1 -P 9 "$tmp/u.img"
cgpt add -i 1 -P 9 "$tmp/k.img"
RANDOM=4242
agree=0
disagree=()
for iter in $(seq 1 30); do
	case $((iter % 3)) in
	0) maxp=16 ;; # up to 16 distinct groups: the cap at 15 and coalescing at 1
	1) maxp=4 ;;  # many ties and zeros
	2) maxp=2 ;;
	esac
	for n in "${parts[@]}"; do
		p=$((RANDOM % maxp)) t=$((RANDOM % 16)) s=$((RANDOM % 2))
		cgpt add -i "$n" -P "$p" -T "$t" -S "$s" "$tmp/u.img"
		cgpt add -i "$n" -P "$p" -T "$t" -S "$s" "$tmp/k.img"
	done
	if ((iter == 30)); then # all distinct: 15..1 and 0, 0 -> target
		for n in "${parts[@]}"; do
			cgpt add -i "$n" -P $((n > 17 ? 0 : 18 - n)) "$tmp/u.img"
			cgpt add -i "$n" -P $((n > 17 ? 0 : 18 - n)) "$tmp/k.img"
		done
	fi
	target=${parts[$((RANDOM % ${#parts[@]}))]}
	((iter == 30)) && target=19
	run "$G" prioritize "$tmp/u.img" "$target"
	[[ $rc == 0 ]] || not_ok "prioritize exits 0 (iteration $iter)" "$(cat "$tmp/err")"
	cgpt prioritize -i "$target" "$tmp/k.img"
	u=$(sfdisk --json "$tmp/u.img" | grep '"attrs"' | tr -d ' ')
	k=$(sfdisk --json "$tmp/k.img" | grep '"attrs"' | tr -d ' ')
	if [[ "$u" == "$k" ]]; then agree=$((agree + 1)); else disagree+=("iteration $iter target $target: ours ${u//$'\n'/ } cgpt ${k//$'\n'/ }"); fi
done
if ((${#disagree[@]} == 0)); then ok "prioritize agrees with cgpt prioritize in $agree random tables"; else
	not_ok "prioritize agrees with cgpt prioritize" "${disagree[@]}"; fi
verify "$tmp/u.img" "after 30 prioritize runs"

# ---------------------------------------------------------------- damaged tables are refused
mkimg "$img" "$USR" 3 4
cgpt add -i 3 -P 1 -S 1 -T 0 "$img"
cp --sparse=always "$img" "$pristine"
nsec=$(($(stat -c %s "$img") / 512))
damage_cases=(
	"primary header CRC:$((512 + 16))"
	"backup header CRC:$(((nsec - 1) * 512 + 16))"
	"primary header signature:512"
	"primary entry array:$((1024 + 2 * 128 + 54))"
	"backup entry array:$(((nsec - 33) * 512 + 3 * 128 + 60))"
	"primary header field covered by the CRC:$((512 + 80))"
)
for dc in "${damage_cases[@]}"; do
	what=${dc%%:*} off=${dc##*:}
	cp --sparse=always "$pristine" "$img"
	flip "$img" "$off"
	before=$(sha "$img")
	codes=()
	for cmd in "set $img 4 --priority 5" "next $img" "prioritize $img 4" "mark-good $img 4" \
		"mark-bad $img 3" "show $img"; do
		# shellcheck disable=SC2086
		run "$G" $cmd
		codes+=("$rc")
	done
	check "damaged $what: every command exits 2" "2 2 2 2 2 2" "${codes[*]}"
	check "damaged $what: image unchanged (sha256)" "$before" "$(sha "$img")"
	if grep -q 'refusing' "$tmp/err"; then ok "damaged $what: clear message"; else
		not_ok "damaged $what: clear message" "$(cat "$tmp/err")"; fi
done
cp --sparse=always "$pristine" "$img"
flip "$img" $((512 + 16))
run "$G" set "$img" 4 --tries 1
if grep -q 'primary GPT header CRC mismatch' "$tmp/err"; then ok "a bad header CRC is named in the message"; else
	not_ok "a bad header CRC is named in the message" "$(cat "$tmp/err")"; fi
# both copies valid but different (e.g. an interrupted writer): refused too
cp --sparse=always "$pristine" "$img"
cp --sparse=always "$pristine" "$ref"
cgpt add -i 4 -P 3 "$ref"
dd if="$ref" of="$img" bs=512 skip=$((nsec - 33)) seek=$((nsec - 33)) count=33 conv=notrunc status=none
before=$(sha "$img")
run "$G" set "$img" 3 --tries 2
check "primary and backup that disagree: exit 2" 2 "$rc"
check "primary and backup that disagree: image unchanged" "$before" "$(sha "$img")"
# a grown disk: the backup stays where the primary header says it is
cp --sparse=always "$pristine" "$img"
truncate -s 80M "$img"
run "$G" set "$img" 4 --priority 2 --tries 1
check "grown disk: set exits 0" 0 "$rc"
check "grown disk: file size unchanged" $((80 * 1024 * 1024)) "$(stat -c %s "$img")"
if cmp -s <(dd if="$img" bs=512 skip=2 count=32 status=none) \
	<(dd if="$img" bs=512 skip=$((nsec - 33)) count=32 status=none); then
	ok "grown disk: the backup at its recorded place was updated"
else not_ok "grown disk: the backup at its recorded place was updated"; fi
truncate -s 64M "$img"
expect_bits "grown disk" "$img" 4 2 1 0
verify "$img" "grown disk, shrunk back"

# ---------------------------------------------------------------- golden samples (recipes/lib/gpt/samples)
# Tables written by sfdisk and sgdisk, never by us: show and next must see
# what each sample's .expected says; a sample with a damaged copy is refused.
sample=$here/../lib/gpt/samples/sample.sh
gimg=$tmp/golden.img
# usr_show EXPECTED [N]: the `show` lines for its usr partitions (N with one
# try less).  attrs=0x%016x: hex digit 1 holds bit 56, 2 the tries, 3 the
# priority; names are ASCII in the samples.
usr_show() {
	awk -v used="${2:-0}" '
		function nibble(h, i) { return index("0123456789abcdef", substr(h, i, 1)) - 1 }
		$1 == "partition" && $3 == "type='"$USR"'" {
			guid = tolower(substr($4, 6)); h = tolower(substr($7, 9)); name = $0; sub(/.* name=/, "", name)
			tries = nibble(h, 3); if ($2 == used && tries > 0) tries--
			printf "%s %s %s priority=%d tries=%d successful=%d\n", $2, name, guid, nibble(h, 4), tries, nibble(h, 2) % 2
		}' <<<"$1"
}
golden=0
for name in $(bash "$sample" list); do
	expected=$(bash "$sample" expected "$name")
	bash "$sample" make "$name" "$gimg"
	before=$(sha "$gimg")
	if ! grep -qx 'primary ok' <<<"$expected" || ! grep -qx 'backup ok' <<<"$expected"; then
		run "$G" show "$gimg"
		show_rc=$rc
		run "$G" next "$gimg"
		check "golden $name: a damaged copy is refused (show, next exit 2)" "2 2" "$show_rc $rc"
		check "golden $name: image unchanged" "$before" "$(sha "$gimg")"
		continue
	fi
	golden=$((golden + 1))
	run "$G" show "$gimg"
	check "golden $name: show" "$(usr_show "$expected")" "$(cat "$tmp/out")"
	slot=$(awk '$1 == "slot" { print $2 }' <<<"$expected")
	run "$G" next "$gimg"
	if [[ $slot == none ]]; then
		check "golden $name: next finds no bootable slot (exit 1)" 1 "$rc"
		check "golden $name: next writes nothing" "$before" "$(sha "$gimg")"
		continue
	fi
	check "golden $name: next chooses partition $slot" \
		"$slot $(awk -v n="$slot" '$1 == "partition" && $2 == n { print tolower(substr($4, 6)) }' <<<"$expected")" \
		"$(cat "$tmp/out")"
	run "$G" show "$gimg"
	check "golden $name: next used one try of partition $slot, if it had one" "$(usr_show "$expected" "$slot")" "$(cat "$tmp/out")"
	run sgdisk -v "$gimg"
	if grep -q 'No problems found' "$tmp/out"; then ok "golden $name: sgdisk -v finds no problems after next"; else
		not_ok "golden $name: sgdisk -v finds no problems after next" "$(cat "$tmp/out" "$tmp/err")"; fi
done
check "golden samples with both copies good were checked" yes "$( ((golden >= 5)) && echo yes)"

# ---------------------------------------------------------------- usage and other errors
cp --sparse=always "$pristine" "$img"
before=$(sha "$img")
usage_cases=(
	""
	"frobnicate $img"
	"show"
	"show $img extra"
	"next"
	"set $img"
	"set $img 4"
	"set $img 0 --priority 1"
	"set $img x --priority 1"
	"set $img 4 --priority 16"
	"set $img 4 --priority -1"
	"set $img 4 --tries 1x"
	"set $img 4 --successful 2"
	"set $img 4 --priority"
	"set $img 4 --bogus 1"
	"prioritize $img"
	"prioritize $img 4 5"
	"mark-good $img"
	"mark-bad $img 4 --priority 1"
)
codes=()
for uc in "${usage_cases[@]}"; do
	# shellcheck disable=SC2086
	run "$G" $uc
	codes+=("$rc")
	if [[ $rc != 64 ]]; then echo "    usage case '$uc' -> $rc"; fi
	if [[ ! -s "$tmp/err" ]]; then echo "    usage case '$uc' printed nothing"; codes+=(silent); fi
done
expected=$(printf '64 %.0s' "${usage_cases[@]}")
check "usage errors exit 64 with a message" "${expected% }" "${codes[*]}"
check "usage errors leave the image alone" "$before" "$(sha "$img")"
run "$G" --help
check "--help exits 0" 0 "$rc"
run "$G" set "$img" 1 --priority 1
check "a non-usr partition is refused (exit 1)" 1 "$rc"
run "$G" mark-good "$img" 2
check "an unused entry is refused (exit 1)" 1 "$rc"
run "$G" prioritize "$img" 129
check "a partition number past the table is refused (exit 1)" 1 "$rc"
run "$G" show "$tmp/does-not-exist.img"
check "a missing disk is an error (exit 1)" 1 "$rc"
check "refused commands leave the image alone" "$before" "$(sha "$img")"
truncate -s 64M "$tmp/blank.img"
run "$G" show "$tmp/blank.img"
check "a disk without GPT is refused (exit 2)" 2 "$rc"

# ---------------------------------------------------------------- a real block device (needs root and loop devices)
if [[ $(id -u) == 0 ]] && command -v losetup >/dev/null 2>&1 &&
	loopdev=$(losetup --find --show "$pristine" 2>/dev/null) && [[ -b "$loopdev" ]]; then
	run "$G" set "$loopdev" 4 --priority 2 --tries 1
	check "block device: set exits 0" 0 "$rc"
	run "$G" show "$loopdev"
	check "block device: show" "4 USR-B $uuid_b priority=2 tries=1 successful=0" "$(sed -n 2p "$tmp/out")"
	losetup -d "$loopdev"
	loopdev=""
	expect_bits "block device: written through to the image" "$pristine" 4 2 1 0
	verify "$pristine" "after writing through a block device"
else
	loopdev=""
	skip=$((skip + 1))
	echo "skip - block device test (needs root and a free loop device)"
fi

if ((skip > 0)); then report "$skip skipped" || exit 1; else report || exit 1; fi
