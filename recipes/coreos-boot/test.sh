#!/usr/bin/env bash
# Test for the coreos-boot recipe: builds the UEFI app from src/ and boots it
# for real under QEMU (TCG) + OVMF from a GPT disk image made without root
# tricks (sfdisk, cgpt, mkfs.vfat + mtools, dd).  Debian's cloud kernel
# (fetched once with `apt-get download`, cached under
# ${XDG_CACHE_HOME:-~/.cache}/coresdk-test/) boots into a busybox initramfs
# that prints its command line and powers off.  -no-reboot turns a reset
# into a QEMU exit, so each QEMU run is exactly one boot.
#
# Needs (installed with apt-get when missing, which needs root):
#   qemu-system-x86 ovmf mtools dosfstools fdisk cgpt busybox-static cpio
#   gnu-efi make gcc binutils
# Prints "N passed, M failed" and exits non-zero if anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trap 'echo "test.sh: unexpected error at line $LINENO" >&2' ERR

# ---------------------------------------------------------------- host packages
pkgs=(qemu-system-x86 ovmf mtools dosfstools fdisk cgpt busybox-static cpio
	gnu-efi make gcc binutils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
apt_updated=0
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) != 0 ]]; then
		echo "test.sh: missing packages (need root to install): ${missing[*]}" >&2
		exit 1
	fi
	echo "# installing ${missing[*]}"
	apt-get update -qq && apt_updated=1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export MTOOLS_SKIP_CHECK=1

OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
BOOT_TIMEOUT=${COREOS_BOOT_TIMEOUT:-180}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coreos-boot-test.XXXXXX")
if [[ -n "${COREOS_BOOT_KEEP:-}" ]]; then echo "# keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

source "$(dirname "$(readlink -f "$0")")/../../scripts/test-report.sh"
sha() { sha256sum "$1" | cut -d' ' -f1; }

USR_TYPE=5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6
ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
uuid_a=7130c94a-213a-4e5a-8e26-6cce9662f132
uuid_b=e03dd35c-7c2d-4a47-b3fe-27f15780a57c

# ---------------------------------------------------------------- build (f)
# Each build directory gets the GPT library where the recipe build puts it:
# ../lib/gpt next to src (recipes/lib/gpt, the recipe's `libraries`).
mkdir -p "$tmp/b1" "$tmp/another/dir/b2" "$tmp/lib" "$tmp/another/dir/lib"
cp -R "$here/src/." "$tmp/b1/"
cp -R "$here/src/." "$tmp/another/dir/b2/"
cp -R "$here/../lib/gpt" "$tmp/lib/"
cp -R "$here/../lib/gpt" "$tmp/another/dir/lib/"
rc=0
make -C "$tmp/b1" install DESTDIR="$tmp/root" >"$tmp/build.log" 2>&1 || rc=$?
check "make install builds the app" 0 "$rc"
[[ $rc == 0 ]] || { cat "$tmp/build.log"; exit 1; }
EFI=$tmp/root/usr/lib/coreos-boot/bootx64.efi
check "installed as /usr/lib/coreos-boot/bootx64.efi, mode 0644" 644 "$(stat -c %a "$EFI" 2>/dev/null)"
sleep 1 # a clock-dependent field would now differ
rc=0
SOURCE_DATE_EPOCH=12345 make -C "$tmp/another/dir/b2" >"$tmp/build2.log" 2>&1 || rc=$?
check "second build in another directory" 0 "$rc"
check "build is reproducible (same sha256 twice)" "$(sha "$EFI")" "$(sha "$tmp/another/dir/b2/bootx64.efi" 2>/dev/null || true)"
pe=$(od -An -tu4 -j60 -N4 "$EFI" | tr -d ' ')
check "PE/COFF TimeDateStamp is 0" 0 "$(od -An -tu4 -j$((pe + 8)) -N4 "$EFI" | tr -d ' ')"
echo "# bootx64.efi: $(stat -c %s "$EFI") bytes"

# ---------------------------------------------------------------- kernel (cached)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/coresdk-test
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }' || true)
if [[ -z "$kpkg" && $apt_updated == 0 && $(id -u) == 0 ]]; then
	apt-get update -qq && apt_updated=1
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }' || true)
fi
kernel=""
if [[ -n "$kpkg" ]]; then
	kernel=$(ls "$cache/$kpkg"/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
	if [[ -z "$kernel" ]]; then
		echo "# fetching $kpkg (once; cached in $cache)"
		mkdir -p "$tmp/deb"
		(cd "$tmp/deb" && apt-get download -qq "$kpkg" >/dev/null 2>&1) || true
		deb=$(ls "$tmp/deb"/*.deb 2>/dev/null | head -n1 || true)
		if [[ -n "$deb" ]]; then
			rm -rf "$cache/$kpkg.part"
			mkdir -p "$cache/$kpkg.part"
			dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache/$kpkg.part" --wildcards './boot/vmlinuz-*'
			rm -rf "$cache/$kpkg" && mv "$cache/$kpkg.part" "$cache/$kpkg"
			kernel=$(ls "$cache/$kpkg"/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
		fi
	fi
fi
# Offline: any kernel cached by an earlier run will do.
[[ -n "$kernel" ]] || kernel=$(ls "$cache"/linux-image-*/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
if [[ -z "$kernel" ]]; then
	not_ok "get Debian's cloud kernel" "apt-get download ${kpkg:-linux-image-*-cloud-amd64} failed and nothing is cached in $cache"
	report
	exit 1
fi
echo "# kernel: $kernel"

# ---------------------------------------------------------------- initramfs
ird=$tmp/initramfs
mkdir -p "$ird/bin" "$ird/proc" "$ird/dev" "$ird/sys"
cp /bin/busybox "$ird/bin/busybox"
for app in sh mount cat echo poweroff sleep; do ln -s busybox "$ird/bin/$app"; done
cat >"$ird/init" <<'EOF'
#!/bin/sh
# No /dev/console node in the archive (that would need mknod): use devtmpfs.
mount -t devtmpfs dev /dev
mount -t proc proc /proc
exec >/dev/console 2>&1
echo "TEST-CMDLINE: $(cat /proc/cmdline)"
poweroff -f
EOF
chmod 0755 "$ird/init"
(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 | gzip -n -1 >"$tmp/initrd.img")

# ---------------------------------------------------------------- disk images
# ESP: FAT32, \EFI\BOOT\BOOTX64.EFI and the \coreos\ files of both slots.
# If the loader returns to the firmware, OVMF's next boot option is its
# built-in UEFI Shell, which would wait at its prompt forever; our
# \startup.nsh makes it power the VM off instead, so QEMU exits.
make_esp() { # OUT [omit-kernel-b]
	local esp=$1
	rm -f "$esp"
	mkfs.vfat -F 32 -S 512 -s 1 -n EFI-SYSTEM -i 12345678 -C "$esp" $((48 * 1024)) >/dev/null
	mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/coreos
	mcopy -i "$esp" "$EFI" ::/EFI/BOOT/BOOTX64.EFI
	printf 'echo TEST-SHELL: the firmware got control back\r\nreset -s\r\n' >"$tmp/startup.nsh"
	mcopy -i "$esp" "$tmp/startup.nsh" ::/startup.nsh
	printf 'console=ttyS0,115200 panic=5 slot=A-file\n' >"$tmp/cmdline-a"
	printf 'console=ttyS0,115200 panic=5 slot=B-file\n' >"$tmp/cmdline-b"
	local x
	for x in a b; do
		mcopy -i "$esp" "$kernel" "::/coreos/vmlinuz-$x"
		mcopy -i "$esp" "$tmp/initrd.img" "::/coreos/initrd-$x"
		mcopy -i "$esp" "$tmp/cmdline-$x" "::/coreos/cmdline-$x"
	done
	if [[ "${2:-}" == omit-kernel-b ]]; then mdel -i "$esp" ::/coreos/vmlinuz-b; fi
}

# Disk: GPT with 1 EFI-SYSTEM, 3 USR-A, 4 USR-B (CoreOS numbering, no 2).
truncate -s 72M "$tmp/base.img"
sfdisk -q "$tmp/base.img" <<EOF
label: gpt
label-id: 00000000-0000-0000-0000-000000000001
$tmp/base.img1 : start=2048, size=$((50 * 2048)), type=$ESP_TYPE, uuid=6a5b0f3e-1d2c-4b5a-9e8f-0123456789ab, name="EFI-SYSTEM"
$tmp/base.img3 : start=$((52 * 2048)), size=$((4 * 2048)), type=$USR_TYPE, uuid=$uuid_a, name="USR-A"
$tmp/base.img4 : start=$((56 * 2048)), size=$((4 * 2048)), type=$USR_TYPE, uuid=$uuid_b, name="USR-B"
EOF
esp_start=$(sfdisk --json "$tmp/base.img" |
	awk -v n="\"$tmp/base.img1\"," '$1 == "\"node\":" { hit = ($2 == n) }
		hit && $1 == "\"start\":" { sub(/,$/, "", $2); print $2; exit }')
check "sfdisk lays out partition 1 at sector 2048" 2048 "$esp_start"
make_esp "$tmp/esp.img"
make_esp "$tmp/esp-nokb.img" omit-kernel-b
dd if="$tmp/esp.img" of="$tmp/base.img" bs=512 seek="$esp_start" conv=notrunc status=none

disk=$tmp/disk.img
new_disk() { # [ESP image] -- a fresh copy of the base disk
	cp --sparse=always "$tmp/base.img" "$disk"
	if [[ -n "${1:-}" ]]; then
		dd if="$1" of="$disk" bs=512 seek="$esp_start" conv=notrunc status=none
	fi
}
set_bits() { # N PRIO TRIES SUCC
	cgpt add -i "$1" -P "$2" -T "$3" -S "$4" "$disk"
}
bits() { # N -> "P/T/S"
	echo "$(cgpt show -i "$1" -P "$disk")/$(cgpt show -i "$1" -T "$disk")/$(cgpt show -i "$1" -S "$disk")"
}
gpt_regions() { # -> primary (LBA 0-33) and backup (last 33 LBAs) bytes
	head -c $((34 * 512)) "$disk"
	tail -c $((33 * 512)) "$disk"
}
gpt_sum() { gpt_regions | sha256sum | cut -d' ' -f1; }
# Both GPT copies valid and equal: sfdisk, sgdisk (if present) and the raw
# entry arrays (primary LBA 2-33, backup = the 32 LBAs before the last).
gpt_valid() {
	local size msgs=""
	size=$(stat -c %s "$disk")
	sfdisk --verify "$disk" >"$tmp/verify" 2>&1 || msgs+="sfdisk --verify failed: $(tr '\n' ' ' <"$tmp/verify") "
	grep -qi 'corrupt\|invalid\|mismatch' "$tmp/verify" && msgs+="sfdisk: $(tr '\n' ' ' <"$tmp/verify") "
	if command -v sgdisk >/dev/null 2>&1; then
		sgdisk -v "$disk" >"$tmp/sgdisk" 2>&1 || msgs+="sgdisk -v failed "
		grep -q 'No problems found' "$tmp/sgdisk" || msgs+="sgdisk -v: $(tr '\n' ' ' <"$tmp/sgdisk") "
	fi
	cmp -s <(dd if="$disk" bs=512 skip=2 count=32 status=none) \
		<(dd if="$disk" bs=512 skip=$((size / 512 - 33)) count=32 status=none) ||
		msgs+="primary and backup entry arrays differ "
	echo "${msgs:-valid}"
}

boot_secs=()
# boot NAME [readonly]: one QEMU run; log in $tmp/NAME.log, status in $qrc.
boot() {
	local log=$tmp/$1.log start ro=""
	[[ "${2:-}" == readonly ]] && ro=,readonly=on
	cp "$OVMF_VARS" "$tmp/vars.fd"
	start=$SECONDS
	qrc=0
	timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg -m 512 \
		-display none -monitor none -nic none -no-reboot \
		-drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
		-drive if=pflash,format=raw,unit=1,file="$tmp/vars.fd" \
		-drive if=none,id=d,format=raw,file="$disk"$ro \
		-device virtio-blk-pci,drive=d,bootindex=1 \
		-serial file:"$log" </dev/null >"$tmp/$1.qemu" 2>&1 || qrc=$?
	boot_secs+=("$1=$((SECONDS - start))s")
	# OVMF's console output has escape sequences and CRs: keep plain lines.
	sed -e 's/\x1b\[[0-9;]*[a-zA-Z]//g' -e 's/\r//g' "$log" >"$tmp/$1.txt"
}
line() { grep -m1 "$2" "$tmp/$1.txt" || true; } # NAME PATTERN
show_log() { sed -n '/coreos-boot\|TEST-CMDLINE\|Kernel panic/p' "$tmp/$1.txt" | head -n 8; }
expect_boot() { # NAME SLOT(A|B) -- QEMU powered off from the initramfs of SLOT
	local name=$1 slot=$2 x=${2,,} uuid
	[[ $x == a ]] && uuid=$uuid_a || uuid=$uuid_b
	check "$name: QEMU exited by itself (status 0)" 0 "$qrc"
	local want="TEST-CMDLINE: console=ttyS0,115200 panic=5 slot=$slot-file initrd=\\coreos\\initrd-$x verity.usr=PARTUUID=$uuid"
	local got
	got=$(line "$name" 'TEST-CMDLINE:')
	if [[ "$got" == "$want"* ]]; then ok "$name: booted USR-$slot with the full command line"; else
		not_ok "$name: booted USR-$slot with the full command line" "expected: $want" "got:" "$(show_log "$name")"
	fi
}

# ---------------------------------------------------------------- (a) A proven, B empty
new_disk
set_bits 3 1 0 1
set_bits 4 0 0 0
before=$(gpt_sum)
boot a
expect_boot a A
check "a: loader line" "coreos-boot: USR-A (partition 3, priority 1, tries 0->0, successful 1)" "$(line a 'coreos-boot: USR-')"
check "a: GPT unchanged (first 34 and last 33 sectors)" "$before" "$(gpt_sum)"

# ---------------------------------------------------------------- (b) update life cycle
new_disk
set_bits 3 1 0 1
set_bits 4 2 1 0
boot b1
expect_boot b1 B
check "b1: loader line" "coreos-boot: USR-B (partition 4, priority 2, tries 1->0, successful 0)" "$(line b1 'coreos-boot: USR-')"
check "b1: USR-B is now p2/t0/s0" "2/0/0" "$(bits 4)"
check "b1: USR-A untouched (p1/t0/s1)" "1/0/1" "$(bits 3)"
check "b1: both GPT copies valid and equal" valid "$(gpt_valid)"
before=$(gpt_sum)
boot b2
expect_boot b2 A
check "b2: GPT unchanged (B skipped: no tries, not successful)" "$before" "$(gpt_sum)"

# ---------------------------------------------------------------- (c) tie
new_disk
set_bits 3 2 0 1
set_bits 4 2 0 1
boot c
expect_boot c A

# ---------------------------------------------------------------- (d) nothing bootable
new_disk
set_bits 3 0 0 1
set_bits 4 0 1 0
before=$(gpt_sum)
boot d
got=$(line d 'coreos-boot: error:')
if [[ "$got" == *"no bootable /usr partition"* ]]; then ok "d: error printed: ${got#coreos-boot: error: }"; else
	not_ok "d: error printed" "log:" "$(show_log d)"
fi
check "d: no kernel started" "" "$(line d 'TEST-CMDLINE')"
check "d: no reset by the loader" "" "$(line d 'resetting')"
got=$(sed -n '/coreos-boot: error:/,$p' "$tmp/d.txt" | grep -m1 'BdsDxe: failed to start' || true)
if [[ "$got" == *': Not Found' ]]; then ok "d: the loader returned EFI_NOT_FOUND to the firmware"; else
	not_ok "d: the loader returned EFI_NOT_FOUND to the firmware" "got: $got"
fi
check "d: QEMU exited within the timeout (via the shell's startup.nsh)" 0 "$qrc"
check "d: GPT unchanged" "$before" "$(gpt_sum)"

# ---------------------------------------------------------------- (e) kernel of the new slot missing
new_disk "$tmp/esp-nokb.img"
set_bits 3 1 0 1
set_bits 4 2 1 0
boot e1
got=$(line e1 'coreos-boot: error:')
if [[ "$got" == *'vmlinuz-b'* ]]; then ok "e1: error printed: ${got#coreos-boot: error: }"; else
	not_ok "e1: error printed" "log:" "$(show_log e1)"
fi
check "e1: loader resets the machine" "coreos-boot: resetting in 5 seconds" "$(line e1 'coreos-boot: resetting')"
check "e1: QEMU exited (reset + -no-reboot)" 0 "$qrc"
check "e1: the firmware did not get control back" "" "$(line e1 'BdsDxe: failed to start\|TEST-SHELL')"
check "e1: tries of USR-B used up (p2/t0/s0)" "2/0/0" "$(bits 4)"
check "e1: both GPT copies valid and equal" valid "$(gpt_valid)"
boot e2
expect_boot e2 A

# ---------------------------------------------------------------- (g) primary GPT header wiped
# OVMF's partition driver restores a damaged GPT copy from the good one
# before any application runs, so here the loader sees a valid table again.
wipe_primary() { dd if=/dev/zero of="$disk" bs=512 seek=1 count=1 conv=notrunc status=none; }
new_disk
set_bits 3 1 0 1
set_bits 4 2 1 0
wipe_primary
check "g: primary GPT header wiped before the boot" yes "$([[ $(gpt_valid) != valid ]] && echo yes)"
boot g
expect_boot g B
check "g: USR-B p2/t0/s0" "2/0/0" "$(bits 4)"
check "g: both GPT copies valid and equal afterwards" valid "$(gpt_valid)"

# ---------------------------------------------------------------- (h) backup header wiped, read-only disk
# The firmware cannot restore the backup now (and with a wiped primary on
# a read-only disk it would not expose the partitions at all), so the
# loader itself sees one damaged copy; a proven slot needs no write.
new_disk
set_bits 3 1 0 1
dd if=/dev/zero of="$disk" bs=512 seek=$(($(stat -c %s "$disk") / 512 - 1)) count=1 conv=notrunc status=none
before=$(sha "$disk")
boot h readonly
expect_boot h A
check "h: loader warns" "coreos-boot: warning: backup GPT is damaged" "$(line h 'coreos-boot: warning')"
check "h: disk unchanged" "$before" "$(sha "$disk")"

# ---------------------------------------------------------------- (i) a try that cannot be recorded
# Booting an unproven slot without using up a try could loop forever.
new_disk
set_bits 3 1 0 1
set_bits 4 2 1 0
before=$(sha "$disk")
boot i readonly
got=$(line i 'coreos-boot: error:')
if [[ "$got" == *'cannot update the GPT'* ]]; then ok "i: error printed: ${got#coreos-boot: error: }"; else
	not_ok "i: error printed" "log:" "$(show_log i)"
fi
check "i: no kernel started, no reset" "" "$(line i 'TEST-CMDLINE\|resetting')"
check "i: QEMU exited within the timeout (via the shell's startup.nsh)" 0 "$qrc"
check "i: disk unchanged" "$before" "$(sha "$disk")"

# ---------------------------------------------------------------- (j) golden samples (recipes/lib/gpt/samples)
# Tables written by sfdisk and sgdisk, never by us, with room for the ESP
# (`sample.sh esp`): the loader boots the slot the sample's .expected names.
sample=$here/../lib/gpt/samples/sample.sh
for name in $(bash "$sample" list); do
	part=$(bash "$sample" esp "$name")
	[[ -n $part ]] || continue
	expected=$(bash "$sample" expected "$name")
	bash "$sample" make "$name" "$disk"
	start=$(awk -v n="$part" '$1 == "partition" && $2 == n { sub(/^first=/, "", $5); print $5 }' <<<"$expected")
	dd if="$tmp/esp.img" of="$disk" bs=512 seek="$start" conv=notrunc status=none
	slot=$(awk '$1 == "slot" { print $2 }' <<<"$expected")
	label=$(awk -v n="$slot" '$1 == "partition" && $2 == n { sub(/.* name=/, ""); print }' <<<"$expected")
	boot "golden-$name"
	case $label in
	USR-A | USR-B)
		expect_boot "golden-$name" "${label#USR-}"
		check "golden-$name: both GPT copies valid and equal afterwards" valid "$(gpt_valid)"
		;;
	*) not_ok "golden-$name: the sample boots USR-A or USR-B" "slot $slot is '$label'" ;;
	esac
done

echo "# boot times: ${boot_secs[*]}"
report || exit 1
