#!/bin/bash
# Installs every Debian package coresdk needs to build and test images (idempotent), then
# builds coresdk in release mode. Run as root on Debian 12, or with sudo available.
set -euo pipefail

PACKAGES=(
  # Swift package's C libraries
  libfdisk-dev libarchive-dev libblkid-dev libbz2-dev libyaml-dev zlib1g-dev libsqlite3-dev libssl-dev pkg-config
  # Debian packages into an image, rootless
  mmdebstrap uidmap
  # filesystems and disks, written as files
  e2fsprogs dosfstools mtools erofs-utils squashfs-tools cryptsetup-bin fdisk gdisk cgpt qemu-utils
  # booting images in tests and benchmarks, logging in to them
  qemu-system-x86 ovmf openssh-client cpio zstd busybox-static
  # etcd 3.4: checks that cloud-config etcd drop-ins work with it; the discovery service in tests
  etcd-server etcd-client
  # update payloads: a protobuf decoder that is not ours checks the format; bzip2, wrk and nginx for the benchmarks
  wrk nginx
  protobuf-compiler bzip2
  # building source recipes (coreos-boot is a UEFI application: gnu-efi)
  build-essential make python3 gnu-efi
  # the update server's shared store in tests (the embedded one is SQLite)
  postgresql
  # the generated <prefix>_production_qemu.sh is checked with it
  shellcheck
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cd "$(dirname "$0")/.."
log=$(mktemp)
if ! swift build -c release --product coresdk >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
