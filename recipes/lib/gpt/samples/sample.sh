#!/usr/bin/env bash
# The golden GPT samples: partition tables written by the real sfdisk (Debian
# fdisk) and sgdisk (gdisk), never by our code, with the result a reader must
# find.  Shared by the tests of recipes/lib/gpt, gptprio, coreos-init and
# coreos-boot, and by Tests/DiskTests/ForeignGPTTests.swift.
#
#   sample.sh list                     the sample names
#   sample.sh make NAME IMG [--intact] writes the sample's disk image to IMG
#                                      (--intact: without its damage)
#   sample.sh expected NAME            the expected result (comments dropped)
#   sample.sh esp NAME                 the partition a boot test may fill
#                                      with its ESP, if the sample has one
#
# A sample is NAME.sfdisk (an sfdisk script, fed to `sfdisk IMG`) or
# NAME.sgdisk (sgdisk arguments, one per line, run as `sgdisk ARGS... IMG`),
# with directives in comment lines of the form "#: KEY VALUE...":
#   size SIZE          image size for truncate (default 16MiB)
#   part-attrs N ATTRS then `sfdisk --part-attrs IMG N ATTRS` (sfdisk samples)
#   damage WHAT...     then invert one byte of each WHAT: primary-header or
#                      backup-header (the first byte of its stored CRC32),
#                      primary-entries or backup-entries (the first byte of
#                      partition 1's name)
#   esp N              partition N is large enough for a boot test's ESP
#
# NAME.expected holds, one per line (a line starting with # is a comment):
#   primary STATE / backup STATE   ok, header-crc, entries-crc, ...
#   use primary|backup|none        the copy a reader that falls back trusts
#   disk GUID                      the disk GUID
#   partition N type=GUID guid=GUID first=LBA last=LBA attrs=0x%016x name=NAME
#                                  each used entry, in table order
#   slot N|none                    GRUB's gptprio.next choice
# disk, partition and slot lines follow only when a copy is usable.  GUIDs
# are upper case; NAME is the rest of the line (UTF-8).
set -euo pipefail

samples=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "sample.sh: $*" >&2
	exit 1
}

source_of() { # NAME -> the sample's file
	local f
	for f in "$samples/$1.sfdisk" "$samples/$1.sgdisk"; do
		[[ -f $f ]] && { echo "$f"; return 0; }
	done
	die "no sample '$1' in $samples"
}

directives() { # FILE KEY -> the values of each "#: KEY ..." line
	sed -n "s/^#: *$2 \{1,\}//p" "$1"
}

# invert IMG OFFSET: xor one byte with 0xff
invert() {
	local v
	v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((v ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

le64() { # IMG OFFSET -> the little-endian 64-bit number there
	od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '
}

damage() { # IMG WHAT...: offsets are taken before any byte is changed
	local img=$1 what off backup offsets=()
	shift
	backup=$(le64 "$img" $((512 + 32))) # the primary header's AlternateLBA
	for what in "$@"; do
		case $what in
		primary-header) off=$((512 + 16)) ;;
		backup-header) off=$((backup * 512 + 16)) ;;
		primary-entries) off=$(($(le64 "$img" $((512 + 72))) * 512 + 56)) ;;
		backup-entries) off=$(($(le64 "$img" $((backup * 512 + 72))) * 512 + 56)) ;;
		*) die "unknown damage '$what'" ;;
		esac
		offsets+=("$off")
	done
	for off in "${offsets[@]}"; do invert "$img" "$off"; done
}

make_sample() { # NAME IMG [--intact]
	local file img=$2 size line args=() attrs
	file=$(source_of "$1")
	size=$(directives "$file" size | tail -n1)
	rm -f "$img"
	truncate -s "${size:-16MiB}" "$img"
	case $file in
	*.sfdisk)
		grep -v '^#' "$file" | sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null
		while read -r attrs; do
			[[ -n $attrs ]] || continue
			# shellcheck disable=SC2086
			sfdisk -q --no-reread --no-tell-kernel --part-attrs "$img" $attrs >/dev/null
		done < <(directives "$file" part-attrs)
		;;
	*.sgdisk)
		while IFS= read -r line; do
			[[ -z $line || $line == \#* ]] || args+=("$line")
		done <"$file"
		sgdisk "${args[@]}" "$img" >/dev/null
		;;
	esac
	if [[ "${3:-}" != --intact ]]; then
		# shellcheck disable=SC2046
		damage "$img" $(directives "$file" damage)
	fi
}

case ${1:-} in
list)
	for f in "$samples"/*.sfdisk "$samples"/*.sgdisk; do
		[[ -f $f ]] && basename "${f%.*}"
	done | LC_ALL=C sort
	;;
make)
	[[ $# -ge 3 ]] || die "usage: sample.sh make NAME IMG [--intact]"
	make_sample "$2" "$3" "${4:-}"
	;;
expected)
	[[ -f "$samples/${2:-}.expected" ]] || die "no $samples/${2:-}.expected"
	grep -v -e '^#' -e '^$' "$samples/$2.expected"
	;;
esp)
	directives "$(source_of "${2:-}")" esp | tail -n1
	;;
*)
	die "usage: sample.sh list | make NAME IMG [--intact] | expected NAME | esp NAME"
	;;
esac
