#!/usr/bin/env bash
# Test for the coreos-init recipe: the initramfs /init and coreos-init-helper.
#
# 1. builds the recipe twice (two directories) -> same bytes, static helper;
# 2. checks the helper's first-boot on GPT image files (no QEMU);
# 3. builds, without root tricks (no mount/loop/nbd), what coresdk builds:
#    - an initramfs (cpio newc) with /init, busybox, the helper, the kernel
#      modules for virtio disks + dm-verity + squashfs and their modules.dep;
#    - a CoreOS-layout GPT disk: USR-A = squashfs + dm-verity hash area
#      (veritysetup format, with superblock), OEM and ROOT ext4 (mke2fs -d),
#      placeholder disk GUID, 64 MiB of space the GPT does not know about;
#    and boots it in QEMU (TCG) with Debian's cloud kernel.  /usr holds a
#    fake "systemd" that prints what it sees and powers off;
# 4. checks: first boot (verity /usr ro, ROOT rw, OEM, GUID randomized, ROOT
#    grown, both GPTs valid), second boot (nothing changes), wiped ROOT
#    (/etc restored from /usr/share/factory/etc), wrong root hash and a
#    corrupted /usr (reboot, no switch_root), corrupted file data (EIO);
#    a slot on trial: the watchdog armed, all of /usr read before it is
#    trusted (damaged file data refused), and a system that hangs reset by
#    the watchdog.
#
# The kernel package is fetched once with `apt-get download` and cached in
# ${XDG_CACHE_HOME:-~/.cache}/coresdk-test/coreos-init/.
# Prints "ok - ..."/"not ok - ..." lines and "N passed, M failed"; exits
# non-zero if anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trap 'echo "test.sh: unexpected error at line $LINENO" >&2' ERR

# ---------------------------------------------------------------- packages
pkgs=(qemu-system-x86 busybox-static cpio squashfs-tools cryptsetup-bin e2fsprogs fdisk cgpt zstd
	file binutils make gcc libc6-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "# installing: ${missing[*]}"
	if [[ $(id -u) -ne 0 ]]; then
		echo "test.sh: missing packages (${missing[*]}) and not root to install them" >&2
		exit 1
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] && "$BUSYBOX" --list | grep -x switch_root >/dev/null || {
	echo "test.sh: $BUSYBOX is not busybox-static" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coreos-init-test.XXXXXX")
qpid=""
cleanup() {
	[[ -n "$qpid" ]] && kill "$qpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

source "$(dirname "$(readlink -f "$0")")/../../scripts/test-report.sh"
# run CMD...: sets $rc, output in $tmp/out and $tmp/err
run() {
	rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}
# grep_log NAME LOG PATTERN (fixed string)
grep_log() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1" "no '$3' in the serial log; its tail:" "$(tail -n 25 "$2")"; fi
}
no_grep_log() {
	if grep -qF -- "$3" "$2"; then not_ok "$1" "'$3' is in the serial log: $(grep -F -- "$3" "$2" | head -n 3)"; else ok "$1"; fi
}

# ---------------------------------------------------------------- 1. build
lib=usr/lib/coreos-init
for n in 1 2; do
	# the GPT library where the recipe build puts it: ../lib/gpt next to src
	mkdir -p "$tmp/build$n/lib"
	cp -r "$here/src" "$tmp/build$n/src-$n"
	cp -r "$here/../lib/gpt" "$tmp/build$n/lib/"
	if ! make -s -C "$tmp/build$n/src-$n" install DESTDIR="$tmp/dest$n" >"$tmp/build$n.log" 2>&1; then
		not_ok "build $n" "$(cat "$tmp/build$n.log")"
		report
		exit 1
	fi
done
ok "make install builds the recipe"
grep -q warning "$tmp/build1.log" && not_ok "builds without warnings" "$(cat "$tmp/build1.log")" || ok "builds without warnings"
HELPER=$tmp/dest1/$lib/coreos-init-helper
INIT=$tmp/dest1/$lib/init
check "helper installed 0755" "755" "$(stat -c %a "$HELPER")"
check "init installed 0755" "755" "$(stat -c %a "$INIT")"
if cmp -s "$HELPER" "$tmp/dest2/$lib/coreos-init-helper"; then
	ok "helper builds reproducibly (two build directories, same bytes)"
else not_ok "helper builds reproducibly" "$(sha256sum "$HELPER" "$tmp/dest2/$lib/coreos-init-helper")"; fi
if [[ "$(file -b "$HELPER")" == *"statically linked"* ]] && ! readelf -d "$HELPER" 2>/dev/null | grep -q NEEDED; then
	ok "helper is statically linked (no NEEDED)"
else not_ok "helper is statically linked" "$(file -b "$HELPER")" "$(readelf -d "$HELPER" | grep NEEDED)"; fi
helper_size=$(stat -c %s "$HELPER")
echo "# helper: $helper_size bytes"
if "$BUSYBOX" sh -n "$INIT"; then ok "init parses with busybox sh -n"; else not_ok "init parses with busybox sh -n"; fi

run "$HELPER"
check "helper without arguments: exit 64" 64 "$rc"
run "$HELPER" find
check "find without SPEC: exit 64" 64 "$rc"
run "$HELPER" find PARTUUID=not-a-guid
check "find PARTUUID=<bad>: exit 64" 64 "$rc"
if grep -q '^coreos-init-helper: ' "$tmp/err"; then ok "errors are prefixed 'coreos-init-helper: '"; else not_ok "errors are prefixed" "$(cat "$tmp/err")"; fi
run "$HELPER" verity-open usr /dev/null
check "verity-open with 2 arguments: exit 64" 64 "$rc"
run "$HELPER" verity-open usr /dev/null 1234
check "verity-open with a short hash: exit 64" 64 "$rc"
run "$HELPER" find /dev/does-not-exist
check "find /dev/<missing>: exit 1, does not block" 1 "$rc"
run "$HELPER" slot /dev/null
check "slot without NUMBER: exit 64" 64 "$rc"
run "$HELPER" slot /dev/null 0
check "slot 0: exit 64 (partitions count from 1)" 64 "$rc"
# (the host's own watchdog is never opened: only the arguments are tried)
run "$HELPER" watchdog-arm
check "watchdog-arm without SECONDS: exit 64" 64 "$rc"
run "$HELPER" watchdog-arm 70000
check "watchdog-arm beyond 65535 s: exit 64" 64 "$rc"

# ---------------------------------------------------------------- disk layout
# sectors of 512 bytes; CoreOS numbering and types, small sizes
USR_TYPE=5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6
RESIZE_TYPE=3884DD41-8582-4404-B9A8-E9B84F2DF50E
USR_A=7130c94a-213a-4e5a-8e26-6cce9662f132
USR_B=e03dd35c-7c2d-4a47-b3fe-27f15780a57c
PLACEHOLDER=00000000-0000-0000-0000-000000000001
P1=2048 P2=10240 P3=12288 P4=28672 P6=45056 P7=61440 P9=63488
S_USR=16384 S_OEM=16384 S_ROOT=65536
DISK_MIB=64 GROW_MIB=64

# make_gpt IMG: the partition table (sfdisk, placeholder disk GUID)
make_gpt() {
	local d=$1
	sfdisk -q --no-reread --no-tell-kernel "$d" >/dev/null <<EOF
label: gpt
label-id: $PLACEHOLDER
first-lba: 2048
${d}1 : start=$P1, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0e4ac1b4-31b6-4a1b-9f1c-3c1f2b6f0001, name="EFI-SYSTEM"
${d}2 : start=$P2, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=0e4ac1b4-31b6-4a1b-9f1c-3c1f2b6f0002, name="BIOS-BOOT"
${d}3 : start=$P3, size=$S_USR, type=$USR_TYPE, uuid=$USR_A, name="USR-A", attrs="GUID:48,56"
${d}4 : start=$P4, size=$S_USR, type=$USR_TYPE, uuid=$USR_B, name="USR-B"
${d}6 : start=$P6, size=$S_OEM, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=0e4ac1b4-31b6-4a1b-9f1c-3c1f2b6f0006, name="OEM"
${d}7 : start=$P7, size=2048, type=C95DC21A-DF0E-4340-8D7B-26CBFA9A03E0, uuid=0e4ac1b4-31b6-4a1b-9f1c-3c1f2b6f0007, name="OEM-CONFIG"
${d}9 : start=$P9, size=$S_ROOT, type=$RESIZE_TYPE, uuid=0e4ac1b4-31b6-4a1b-9f1c-3c1f2b6f0009, name="ROOT"
EOF
}
# gpt_bytes IMG: the sectors both GPT copies live in (for comparisons)
gpt_bytes() {
	local sectors=$(($(stat -c %s "$1") / 512))
	{
		dd if="$1" bs=512 count=34 status=none
		dd if="$1" bs=512 skip=$((sectors - 33)) count=33 status=none
	} | sha256sum | cut -d' ' -f1
}
sf_field() { # IMG JSON-KEY: a top-level field of sfdisk --json
	sfdisk --json "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}
sf_part9_end() { # IMG: last sector of partition 9
	sfdisk -d "$1" | awk -F'[=,]' '$1 ~ /9 : start/ { gsub(/ /, ""); print $2 + $4 - 1 }'
}

# ---------------------------------------------------------------- 2. first-boot on image files
img=$tmp/unit.img
truncate -s ${DISK_MIB}M "$img"
make_gpt "$img"
truncate -s +${GROW_MIB}M "$img"
sectors=$(($(stat -c %s "$img") / 512))
run "$HELPER" first-boot "$img"
check "first-boot on an image file: exit 0" 0 "$rc"
if grep -q "moved the backup GPT" "$tmp/out" && grep -q "grew partition 9 (ROOT)" "$tmp/out" && grep -q "set the disk GUID" "$tmp/out"; then
	ok "first-boot reports what it did"
else not_ok "first-boot reports what it did" "$(cat "$tmp/out" "$tmp/err")"; fi
check "first-boot: ROOT ends at the last usable LBA" $((sectors - 34)) "$(sf_part9_end "$img")"
guid=$(sf_field "$img" id)
if [[ "${guid,,}" != "$PLACEHOLDER" && "${guid:14:1}" == 4 ]]; then ok "first-boot: random v4 disk GUID ($guid)"; else not_ok "first-boot: random v4 disk GUID" "$guid"; fi
run sfdisk --verify "$img"
if [[ $rc -eq 0 && -z "$(grep -v -e '^No errors detected' -e 'Header version' -e 'Using .* partitions' -e 'free sectors' -e "^$img:" "$tmp/out" "$tmp/err")" ]]; then
	ok "first-boot: sfdisk --verify is clean"
else not_ok "first-boot: sfdisk --verify is clean" "$(cat "$tmp/out" "$tmp/err")"; fi
run cgpt show "$img"
if [[ $rc -eq 0 && ! -s "$tmp/err" ]]; then ok "first-boot: cgpt show reports no problem"; else not_ok "first-boot: cgpt show reports no problem" "$(cat "$tmp/err")"; fi
before=$(gpt_bytes "$img")
run "$HELPER" first-boot "$img"
check "first-boot again: 'not a first boot'" "not a first boot (disk GUID ${guid,,})" "$(cat "$tmp/out")"
check "first-boot again: GPT unchanged" "$before" "$(gpt_bytes "$img")"
# a torn write: primary header damaged -> repaired from the backup. The byte is inverted, not set:
# it lies in the random disk GUID, which holds 0xff there one time in 256.
byte=$(od -An -tu1 -j $((512 + 60)) -N1 "$img")
printf "\\x$(printf %02x $((255 - byte)))" | dd of="$img" bs=1 seek=$((512 + 60)) conv=notrunc status=none
run "$HELPER" first-boot "$img"
if [[ $rc -eq 0 ]] && grep -q "repaired the primary GPT" "$tmp/out" && [[ "$(gpt_bytes "$img")" == "$before" ]]; then
	ok "first-boot repairs a damaged primary GPT from the backup"
else not_ok "first-boot repairs a damaged primary GPT" "$(cat "$tmp/out" "$tmp/err")"; fi
run "$HELPER" first-boot "$tmp/nonexistent.img"
check "first-boot on a missing disk: exit 1" 1 "$rc"
simg=$tmp/slot.img
truncate -s ${DISK_MIB}M "$simg"
make_gpt "$simg"
run "$HELPER" slot "$simg" 3
check "slot: USR-A's gptprio bits" "0 priority=1 tries=0 successful=1" "$rc $(cat "$tmp/out")"
cgpt add -i 4 -P 2 -T 1 -S 0 "$simg"
run "$HELPER" slot "$simg" 4
check "slot: USR-B after cgpt add -P 2 -T 1 -S 0" "0 priority=2 tries=1 successful=0" "$rc $(cat "$tmp/out")"
run "$HELPER" slot "$simg" 9
if [[ $rc -eq 1 ]] && grep -q "not a CoreOS usr partition" "$tmp/err"; then ok "slot on ROOT: exit 1, not a usr partition"; else
	not_ok "slot on ROOT: exit 1, not a usr partition" "$rc $(cat "$tmp/err")"; fi
run "$HELPER" slot "$simg" 129
check "slot beyond the entry array: exit 1" 1 "$rc"

# ---------------------------------------------------------------- 2b. golden samples (recipes/lib/gpt/samples)
# Tables written by sfdisk and sgdisk, never by us, none with the placeholder
# disk GUID: first-boot leaves a good table alone and repairs a damaged copy
# from the good one; the result reads back (gpt-sample, built from the same
# library) as the sample's .expected says, now with both copies good.
sample=$here/../lib/gpt/samples/sample.sh
gimg=$tmp/golden.img
if cc -std=c11 -O2 -I"$here/../lib/gpt" -o "$tmp/gpt-sample" "$here/../lib/gpt/samples/gpt-sample.c" \
	"$here/../lib/gpt/gpt.c" "$here/../lib/gpt/fdio.c" 2>"$tmp/err"; then
	ok "gpt-sample builds"
else not_ok "gpt-sample builds" "$(cat "$tmp/err")"; fi
for name in $(bash "$sample" list); do
	expected=$(bash "$sample" expected "$name")
	bash "$sample" make "$name" "$gimg"
	before=$(gpt_bytes "$gimg")
	gguid=$(awk '$1 == "disk" { print tolower($2) }' <<<"$expected")
	run "$HELPER" first-boot "$gimg"
	case "$(sed -n 1,3p <<<"$expected" | tr '\n' ' ')" in
	"primary ok backup ok "*)
		check "golden $name: first-boot: not a first boot, nothing to repair" \
			"0 not a first boot (disk GUID $gguid)" "$rc $(cat "$tmp/out")"
		check "golden $name: first-boot: GPT unchanged" "$before" "$(gpt_bytes "$gimg")"
		;;
	"primary ok "*)
		check "golden $name: first-boot repairs the backup from the primary" \
			"0 repaired the backup GPT from the primary copy" "$rc $(sed -n '2s/ (.*//p' "$tmp/out")"
		;;
	*"use backup "*)
		check "golden $name: first-boot repairs the primary from the backup" \
			"0 repaired the primary GPT from the backup copy" "$rc $(sed -n '2s/ (.*//p' "$tmp/out")"
		;;
	*)
		check "golden $name: first-boot finds no valid GPT (exit 1)" "1" "$rc"
		if grep -q 'no valid GPT' "$tmp/err"; then ok "golden $name: first-boot says so"; else
			not_ok "golden $name: first-boot says so" "$(cat "$tmp/err")"; fi
		check "golden $name: first-boot: GPT unchanged" "$before" "$(gpt_bytes "$gimg")"
		continue
		;;
	esac
	run "$tmp/gpt-sample" --rules init "$gimg"
	check "golden $name: afterwards both copies are good and hold the table" \
		"$(sed -e 's/^primary .*/primary ok/' -e 's/^backup .*/backup ok/' -e 's/^use .*/use primary/' <<<"$expected")" \
		"$(cat "$tmp/out")"
done

# ---------------------------------------------------------------- 3a. kernel (cached)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/coresdk-test/coreos-init
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true)
kroot=""
first_dir() { # the first of its arguments that is a directory
	local d
	for d in "$@"; do [[ -d $d ]] && { echo "$d"; return 0; }; done
	return 0
}
if [[ -n "$kpkg" && -f "$cache/$kpkg/ready" ]]; then
	kroot=$cache/$kpkg
elif [[ -n "$kpkg" ]]; then
	echo "# fetching $kpkg (once; cached in $cache)"
	mkdir -p "$tmp/deb"
	if (cd "$tmp/deb" && apt-get download -qq "$kpkg" >/dev/null 2>&1); then
		rm -rf "$cache/$kpkg.part"
		mkdir -p "$cache/$kpkg.part"
		dpkg-deb -x "$tmp/deb/$kpkg"_*.deb "$cache/$kpkg.part"
		kv=$(basename "$(first_dir "$cache/$kpkg.part"/{lib,usr/lib}/modules/*)")
		# the package has no modules.dep (its postinst runs depmod)
		"$BUSYBOX" depmod -b "$cache/$kpkg.part" "$kv"
		touch "$cache/$kpkg.part/ready"
		rm -rf "${cache:?}/$kpkg" && mv "$cache/$kpkg.part" "$cache/$kpkg"
		kroot=$cache/$kpkg
	fi
fi
# offline: an earlier download will do
[[ -n "$kroot" ]] || kroot=$(ls -d "$cache"/linux-image-*/ready 2>/dev/null | head -n1 | xargs -r dirname || true)
if [[ -z "$kroot" ]]; then
	not_ok "get Debian's cloud kernel" "apt-get download ${kpkg:-linux-image-*-cloud-amd64} failed and nothing is cached in $cache"
	report
	exit 1
fi
moddir=$(first_dir "$kroot"/{lib,usr/lib}/modules/*)
kver=$(basename "$moddir")
vmlinuz=$kroot/boot/vmlinuz-$kver
ok "kernel $kver ($(basename "$kroot"))"

# ---------------------------------------------------------------- 3b. initramfs
# (TEST_MODULES="..." tries another list)
read -r -a INITRD_MODULES <<<"${TEST_MODULES:-virtio_pci virtio_blk virtio_scsi sd_mod nvme dm_mod dm_verity squashfs softdog}"
ird=$tmp/initramfs
mkdir -p "$ird"/{bin,etc,dev,proc,sys,run,sysroot,tmp} "$ird/lib/modules/$kver"
cp "$INIT" "$ird/init"
cp "$BUSYBOX" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
cp "$HELPER" "$ird/bin/coreos-init-helper"
printf '%s\n' "${INITRD_MODULES[@]}" >"$ird/etc/initrd-modules"
# closure over the kernel's modules.dep; module names use _ where files use -
awk -v want="${INITRD_MODULES[*]}" '
	function key(path,   b) { b = path; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b); return b }
	{ p = $1; sub(/:$/, "", p); k = key(p); path[k] = p; line[k] = $0; deps[k] = ""
	  for (i = 2; i <= NF; i++) deps[k] = deps[k] " " key($i) }
	END {
		n = split(want, q, " ")
		while (n > 0) {
			m = q[n--]
			if (!(m in path) || (m in seen)) continue
			seen[m] = 1; print line[m]
			c = split(deps[m], d, " ")
			for (i = 1; i <= c; i++) q[++n] = d[i]
		}
	}' "$moddir/modules.dep" | LC_ALL=C sort >"$ird/lib/modules/$kver/modules.dep"
while IFS= read -r l; do
	f=${l%%:*}
	mkdir -p "$ird/lib/modules/$kver/$(dirname "$f")"
	cp "$moddir/$f" "$ird/lib/modules/$kver/$f"
done <"$ird/lib/modules/$kver/modules.dep"
cp "$moddir/modules.builtin" "$ird/lib/modules/$kver/"
module_files=$(cut -d: -f1 "$ird/lib/modules/$kver/modules.dep" | xargs -n1 basename | sed 's/\.ko$//' | tr '\n' ' ')
echo "# initramfs modules: $module_files"
(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) |
	zstd -q -10 >"$tmp/initrd.img"
ok "initramfs built ($(stat -c %s "$tmp/initrd.img") bytes, modules: $module_files)"

# ---------------------------------------------------------------- 3c. file systems
usr=$tmp/usr
mkdir -p "$usr"/{bin,lib/systemd,share/oem,share/factory/etc,share/coreos-init-test}
cp "$BUSYBOX" "$usr/bin/busybox"
echo factory >"$usr/share/factory/etc/marker"
echo coreos-test >"$usr/share/factory/etc/hostname"
# a file whose data blocks are stored raw (random data does not compress)
{
	printf 'COREOS-INIT-BLOB-MARKER'
	head -c $((256 * 1024 - 23)) /dev/urandom
} >"$usr/share/coreos-init-test/blob"
blob_sum=$(sha256sum <"$usr/share/coreos-init-test/blob" | cut -d' ' -f1)
cat >"$usr/lib/systemd/systemd" <<EOF
#!/usr/bin/busybox sh
# fake systemd for coreos-init's test: report, then power off
bb=/usr/bin/busybox
exec >/dev/ttyS0 2>&1
m=\$(\$bb cat /proc/mounts)
yes_if() { if echo "\$m" | \$bb grep -qE "\$1"; then echo yes; else echo no; fi; }
usr_ro=\$(yes_if '^/dev/mapper/usr /usr squashfs ro[, ]')
root_rw=\$(yes_if '^/dev/[a-z0-9]+ / ext4 rw[, ]')
oem=\$(yes_if '^/dev/[a-z0-9]+ /usr/share/oem ext4 rw,nodev[, ]')
run=\$(yes_if '^[^ ]+ /run tmpfs ')
dev=\$(yes_if '^[^ ]+ /dev devtmpfs ')
if \$bb touch /usr/write-test 2>/dev/null; then usr_w=allowed; else usr_w=refused; fi
blob=\$(\$bb sha256sum /usr/share/coreos-init-test/blob 2>/dev/null | \$bb cut -d' ' -f1)
[ "\$blob" = "$blob_sum" ] && blob=ok || blob=bad
echo "FAKE-INIT: pid=\$\$ usr-ro=\$usr_ro usr-write=\$usr_w root-rw=\$root_rw oem=\$oem run=\$run dev=\$dev"
echo "FAKE-INIT: etc=\$(\$bb cat /etc/marker 2>/dev/null || echo missing) oem-file=\$(\$bb cat /usr/share/oem/oem-release 2>/dev/null || echo missing) blob=\$blob"
echo "FAKE-INIT: links bin=\$(\$bb readlink /bin) lib=\$(\$bb readlink /lib) root-mode=\$(\$bb stat -c %a /root) tmp-mode=\$(\$bb stat -c %a /tmp)"
wd=/sys/class/watchdog/watchdog0
echo "FAKE-INIT: watchdog=\$(\$bb cat \$wd/state 2>/dev/null || echo none) timeout=\$(\$bb cat \$wd/timeout 2>/dev/null || echo none) trial=[\$(\$bb cat /run/coreos-init/trial 2>/dev/null | \$bb tr '\n' ' ')]"
echo "FAKE-INIT: mounts:"
echo "\$m"
echo "FAKE-INIT: done"
\$bb sync
case " \$(\$bb cat /proc/cmdline) " in
*" fake.hang "*) echo "FAKE-INIT: hanging"; while :; do \$bb sleep 60; done ;;
esac
\$bb poweroff -f
EOF
chmod 0755 "$usr/lib/systemd/systemd"
mksquashfs "$usr" "$tmp/usr.img" -comp zstd -all-root -noappend -no-progress -quiet -mkfs-time 0 >/dev/null
bytes_used=$(od -An -t u8 -j 40 -N 8 "$tmp/usr.img" | tr -d ' ')
inode_table=$(od -An -t u8 -j 64 -N 8 "$tmp/usr.img" | tr -d ' ')
hash_offset=$(((bytes_used + 4095) / 4096 * 4096))
truncate -s "$hash_offset" "$tmp/usr.img"
veritysetup format --hash=sha256 --data-block-size=4096 --hash-block-size=4096 \
	--data-blocks=$((hash_offset / 4096)) --hash-offset="$hash_offset" \
	--salt=5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee0001 \
	--uuid=5b1b5d0c-7e3a-4c59-9d55-0c0e1d7f3a11 "$tmp/usr.img" "$tmp/usr.img" >"$tmp/verity.txt"
roothash=$(awk '/^Root hash:/ { print $3 }' "$tmp/verity.txt")
if [[ ${#roothash} -eq 64 && $(stat -c %s "$tmp/usr.img") -le $((S_USR * 512)) ]]; then
	ok "USR image: squashfs $bytes_used bytes, verity at $hash_offset, root hash $roothash"
else not_ok "USR image" "$(cat "$tmp/verity.txt")"; fi

mkdir -p "$tmp/root"/{etc,usr,var,home,dev,proc,sys,run}
echo root >"$tmp/root/etc/marker"
install -d -m 0700 "$tmp/root/root"
install -d -m 1777 "$tmp/root/tmp"
ln -s usr/bin "$tmp/root/bin"
ln -s usr/sbin "$tmp/root/sbin"
ln -s usr/lib "$tmp/root/lib"
mkdir -p "$tmp/oem"
echo 'ID=qemu-test' >"$tmp/oem/oem-release"
mkfs_ext4() { # IMG SECTORS LABEL [TREE]
	rm -f "$1"
	truncate -s $(($2 * 512)) "$1"
	mke2fs -q -F -t ext4 -L "$3" ${4:+-d "$4"} -E root_owner=0:0 "$1" >/dev/null
}
mkfs_ext4 "$tmp/root.img" $S_ROOT ROOT "$tmp/root"
mkfs_ext4 "$tmp/oem.img" $S_OEM OEM "$tmp/oem"

disk0=$tmp/pristine.img
truncate -s ${DISK_MIB}M "$disk0"
make_gpt "$disk0"
put() { dd if="$2" of="$1" bs=512 seek="$3" conv=notrunc,sparse status=none; }
put "$disk0" "$tmp/usr.img" $P3
put "$disk0" "$tmp/oem.img" $P6
put "$disk0" "$tmp/root.img" $P9
truncate -s +${GROW_MIB}M "$disk0"
ok "disk image built (${DISK_MIB} MiB GPT + ${GROW_MIB} MiB unknown to it)"

# ---------------------------------------------------------------- 4. boots
# boot NAME DISK [HASH] [SPECS]: boots; serial log in $tmp/NAME.log, exit in
# $qrc, seconds in $secs.  The command line is what the image build and the
# bootloader write; SPECS replaces its root=/verity.usr=/coreos.oem=.
SPECS="root=LABEL=ROOT verity.usr=PARTUUID=$USR_A coreos.oem=LABEL=OEM"
DRIVE=virtio # or scsi, nvme
boot() {
	local name=$1 disk=$2 hash=${3:-$roothash} specs=${4:-$SPECS} start drive
	case $DRIVE in
	virtio) drive=(-drive "file=$disk,format=raw,if=virtio") ;;
	scsi) drive=(-device virtio-scsi-pci,id=scsi0 -drive "file=$disk,format=raw,if=none,id=d0"
		-device scsi-hd,drive=d0,bus=scsi0.0) ;;
	nvme) drive=(-drive "file=$disk,format=raw,if=none,id=d0" -device nvme,serial=coreos0,drive=d0) ;;
	esac
	local append="console=ttyS0,115200n8 console=tty0 verity.usrhash=$hash"
	append+=" initrd=\\coreos\\initrd-a panic=5 $specs${EXTRA_APPEND:+ $EXTRA_APPEND}"
	start=$(date +%s)
	qrc=0
	timeout 240 qemu-system-x86_64 -machine q35 -accel tcg -m 768 -nographic -no-reboot -nic none \
		-kernel "$vmlinuz" -initrd "$tmp/initrd.img" -append "$append" \
		"${drive[@]}" </dev/null >"$tmp/$name.log" 2>&1 || qrc=$?
	secs=$(($(date +%s) - start))
	echo "# boot '$name': ${secs}s, qemu exit $qrc"
	cp "$tmp/$name.log" "${KEEP_LOGS:-$tmp}/" 2>/dev/null || true
}

# (a) first boot
disk=$tmp/disk.img
cp --sparse=always "$disk0" "$disk"
boot first "$disk"
log=$tmp/first.log
check "first boot: QEMU powered off (not killed by the timeout)" 0 "$qrc"
grep_log "first boot: reached the fake systemd as PID 1 with /usr read-only from /dev/mapper/usr (squashfs), ROOT rw, OEM, /run and /dev" "$log" \
	"FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=yes run=yes dev=yes"
grep_log "first boot: /etc from ROOT, OEM file readable, file data verified" "$log" "FAKE-INIT: etc=root oem-file=ID=qemu-test blob=ok"
grep_log "first boot: merged-/usr links and modes" "$log" "FAKE-INIT: links bin=usr/bin lib=usr/lib root-mode=700 tmp-mode=1777"
grep_log "first boot: verity-open reported the device" "$log" "coreos-init: /dev/mapper/usr: verity sha256 on /dev/vda3"
grep_log "first boot: first-boot moved the backup GPT" "$log" "coreos-init: first-boot /dev/vda: moved the backup GPT to the end of the disk"
grep_log "first boot: first-boot grew ROOT" "$log" "coreos-init: first-boot /dev/vda: grew partition 9 (ROOT)"
grep_log "first boot: first-boot set a disk GUID" "$log" "coreos-init: first-boot /dev/vda: set the disk GUID to"
grep_log "first boot: the kernel re-read the partition table" "$log" "coreos-init: first-boot /dev/vda: re-read the partition table"
no_grep_log "first boot: no warnings from coreos-init" "$log" "coreos-init: warning"
grep_log "first boot: the init read the slot's gptprio bits" "$log" "coreos-init: /usr slot /dev/vda3: priority=1 tries=0 successful=1"
grep_log "first boot: a proven slot is not on trial: no watchdog running, no trial record" "$log" "FAKE-INIT: watchdog=inactive timeout=60 trial=[]"
first_secs=$secs

# (b) the GPT afterwards
sectors=$(($(stat -c %s "$disk") / 512))
guid=$(sf_field "$disk" id)
if [[ -n "$guid" && "${guid,,}" != "$PLACEHOLDER" ]]; then ok "after the first boot the disk GUID is $guid, not the placeholder"; else not_ok "disk GUID randomized" "label-id: $guid"; fi
grep_log "the log names the same GUID" "$log" "set the disk GUID to ${guid,,}"
check "ROOT grew to the last usable LBA of the bigger disk" $((sectors - 34)) "$(sf_part9_end "$disk")"
run sfdisk --verify "$disk"
if [[ $rc -eq 0 && -z "$(grep -v -e '^No errors detected' -e 'Header version' -e 'Using .* partitions' -e 'free sectors' -e "^$disk:" "$tmp/out" "$tmp/err")" ]]; then
	ok "sfdisk --verify is clean after the first boot"
else not_ok "sfdisk --verify is clean after the first boot" "$(cat "$tmp/out" "$tmp/err")"; fi
run cgpt show "$disk"
if [[ $rc -eq 0 && ! -s "$tmp/err" ]] && grep -q "Sec GPT header" "$tmp/out"; then
	ok "cgpt show reports both GPT copies, no problem"
else not_ok "cgpt show reports no problem" "$(cat "$tmp/out" "$tmp/err")"; fi
check "USR-A keeps its GUID" "${USR_A^^}" "$(sfdisk --part-uuid "$disk" 3)"

gpt_before=$(gpt_bytes "$disk")
boot second "$disk"
log=$tmp/second.log
check "second boot: QEMU powered off" 0 "$qrc"
grep_log "second boot: first-boot says 'not a first boot'" "$log" "coreos-init: first-boot /dev/vda: not a first boot (disk GUID ${guid,,})"
grep_log "second boot: reached the fake systemd" "$log" "FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=yes"
check "second boot: the GPT bytes did not change" "$gpt_before" "$(gpt_bytes "$disk")"

# other device specs: /dev/..., PARTLABEL=, PARTUUID= in upper case
boot specs "$disk" "" "root=/dev/vda9 verity.usr=PARTLABEL=USR-A coreos.oem=PARTUUID=0E4AC1B4-31B6-4A1B-9F1C-3C1F2B6F0006"
log=$tmp/specs.log
grep_log "root=/dev/vda9 verity.usr=PARTLABEL=USR-A: found the devices" "$log" "coreos-init: /usr is /dev/vda3 (PARTLABEL=USR-A), ROOT is /dev/vda9 (/dev/vda9)"
grep_log "coreos.oem=PARTUUID=<upper case>: OEM mounted" "$log" "FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=yes"
# no OEM partition: not fatal
boot nooem "$disk" "" "root=LABEL=ROOT verity.usr=PARTUUID=$USR_A coreos.oem=LABEL=NO-SUCH-OEM"
log=$tmp/nooem.log
grep_log "missing OEM partition: logged" "$log" "coreos-init: no OEM partition (LABEL=NO-SUCH-OEM)"
grep_log "missing OEM partition: boots without it" "$log" "FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=no"

# (c) wiped ROOT: a fresh, empty file system (no /etc, /usr, /var, ...)
sz9=$(($(sf_part9_end "$disk") - P9 + 1))
mkfs_ext4 "$tmp/root-empty.img" $((S_ROOT)) ROOT
put "$disk" "$tmp/root-empty.img" $P9
boot wiped "$disk"
log=$tmp/wiped.log
check "wiped ROOT: QEMU powered off" 0 "$qrc"
grep_log "wiped ROOT: /etc restored from /usr/share/factory/etc" "$log" "coreos-init: restored /etc from /usr/share/factory/etc"
grep_log "wiped ROOT: boots with the factory /etc" "$log" "FAKE-INIT: etc=factory"
grep_log "wiped ROOT: /usr, merged-/usr links and dirs recreated" "$log" "FAKE-INIT: links bin=usr/bin lib=usr/lib root-mode=700 tmp-mode=1777"
grep_log "wiped ROOT: /usr read-only verity, ROOT rw" "$log" "FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=yes"
echo "# ROOT partition after growth: $sz9 sectors"

# (d) verification failures: reboot (QEMU exits because of -no-reboot)
bad_hash=${roothash:0:63}$(printf '%x' $(((0x${roothash:63:1} + 1) % 16)))
cp --sparse=always "$disk0" "$disk"
boot badhash "$disk" "$bad_hash"
log=$tmp/badhash.log
check "wrong root hash: QEMU exited by the reboot (not the timeout)" 0 "$qrc"
grep_log "wrong root hash: 'failed verification' in the log" "$log" "failed verification"
grep_log "wrong root hash: the init reboots" "$log" "coreos-init: rebooting in 10 seconds"
no_grep_log "wrong root hash: the fake systemd never ran" "$log" "FAKE-INIT"
grep_log "wrong root hash: the kernel reports the reboot" "$log" "reboot: Restarting system"
badhash_secs=$secs

# one flipped byte in the squashfs metadata (the inode table)
flip() { # IMG BYTE-OFFSET
	local b
	b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# refused NAME WHAT: boot NAME rebooted before switching root, and said why
refused() {
	log=$tmp/$1.log
	check "$2: QEMU exited by the reboot" 0 "$qrc"
	grep_log "$2: 'failed verification' in the log" "$log" "failed verification"
	no_grep_log "$2: the fake systemd never ran" "$log" "FAKE-INIT"
}
cp --sparse=always "$disk0" "$disk"
flip "$disk" $((P3 * 512 + inode_table + 20))
boot corrupt "$disk"
refused corrupt "corrupted /usr"
grep_log "corrupted /usr: the kernel's dm-verity saw the corrupted block" "$log" "is corrupted"

# one flipped byte in file data: verity-open passes (it reads metadata, not
# every file), and reading that file fails with EIO at run time
blob_off=$(grep -obaF COREOS-INIT-BLOB-MARKER "$tmp/usr.img" | head -n1 | cut -d: -f1)
cp --sparse=always "$disk0" "$disk"
flip "$disk" $((P3 * 512 + blob_off + 70000))
boot blob "$disk"
log=$tmp/blob.log
check "corrupted file data: QEMU powered off" 0 "$qrc"
grep_log "corrupted file data: the system boots and reading the file fails" "$log" "blob=bad"
grep_log "corrupted file data: dm-verity reports the block" "$log" "is corrupted"

# (e) a slot on trial (successful=0, its try used up by the bootloader)
trial_disk() { # a fresh disk with USR-A on trial
	cp --sparse=always "$disk0" "$disk"
	sfdisk -q --no-reread --no-tell-kernel --part-attrs "$disk" 3 GUID:48 2>/dev/null # priority 1, tries 0, successful 0
}
trial_disk
boot trial "$disk"
log=$tmp/trial.log
check "trial: QEMU powered off (the system ran)" 0 "$qrc"
grep_log "trial: the init sees the slot on trial" "$log" "coreos-init: /usr slot /dev/vda3: priority=1 tries=0 successful=0 (on trial)"
grep_log "trial: the watchdog is armed" "$log" "coreos-init: armed /dev/watchdog (Software Watchdog)"
grep_log "trial: all of /usr is read through dm-verity first" "$log" "data blocks (all read and verified)"
if grep -qE "FAKE-INIT: watchdog=active timeout=(2[0-9][0-9]) trial=\[watchdog=armed timeout=\1 usr-verified=all \]" "$log"; then
	ok "trial: the system starts with the watchdog running (300 s from the kernel's start) and the trial recorded"
else not_ok "trial: watchdog running and the trial recorded" "$(grep 'FAKE-INIT: watchdog' "$log")"; fi

trial_disk
flip "$disk" $((P3 * 512 + blob_off + 70000))
boot trialblob "$disk"
refused trialblob "trial, corrupted file data"
grep_log "trial, corrupted file data: found by reading every block" "$log" "failed verification: reading data block"

trial_disk
EXTRA_APPEND="coreos.trial_timeout=45 fake.hang" boot trialhang "$disk"
log=$tmp/trialhang.log
check "trial, hung system: QEMU exited by a reset (not the timeout)" 0 "$qrc"
grep_log "trial, hung system: it hung after switching root" "$log" "FAKE-INIT: hanging"
grep_log "trial, hung system: the watchdog reset it" "$log" "softdog: Initiating system reboot"
trialhang_secs=$secs

# a /usr device that never appears: give up after 30 s and reboot
cp --sparse=always "$disk0" "$disk"
boot nodev "$disk" "" "root=LABEL=ROOT verity.usr=PARTUUID=11111111-2222-4333-8444-555555555555"
log=$tmp/nodev.log
check "missing /usr device: QEMU exited by the reboot (not the timeout)" 0 "$qrc"
grep_log "missing /usr device: the init gives up" "$log" "coreos-init: no /usr device PARTUUID=11111111-2222-4333-8444-555555555555 after 30s"
grep_log "missing /usr device: says why" "$log" "coreos-init: coreos-init-helper: no partition with PARTUUID=11111111-2222-4333-8444-555555555555"
grep_log "missing /usr device: reboots" "$log" "reboot: Restarting system"
nodev_secs=$secs

# the same image on other disk controllers: virtio-scsi (sd_mod) and NVMe
# (built into the kernel; partitions are nvme0n1pN)
for DRIVE in scsi nvme; do
	case $DRIVE in scsi) dev=sda ;; nvme) dev=nvme0n1 ;; esac
	cp --sparse=always "$disk0" "$disk"
	boot "$DRIVE" "$disk"
	log=$tmp/$DRIVE.log
	grep_log "$DRIVE disk: first-boot on /dev/$dev" "$log" "coreos-init: first-boot /dev/$dev: set the disk GUID"
	grep_log "$DRIVE disk: reached the fake systemd" "$log" "FAKE-INIT: pid=1 usr-ro=yes usr-write=refused root-rw=yes oem=yes"
done
DRIVE=virtio

echo "# boot times: first ${first_secs}s, wrong hash (incl. the 10 s wait) ${badhash_secs}s, missing device (30 s + 10 s) ${nodev_secs}s, hung trial (45 s watchdog) ${trialhang_secs}s"
report || exit 1
