#!/bin/bash
# What etcd and docker cost: builds the default board and the same board without the etcd and
# docker recipes, then prints for each the image sizes, the boot time to SSH and the memory in use
# after boot (`free -m`); for the default image also with etcd (one member) and docker started by
# the cloud-config and a busybox container running. TCG unless KVM is usable; one machine at a time.
# Usage: bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORESDK=${CORESDK:-.build/release/coresdk}
scratch=$(mktemp -d /tmp/coresdk-cluster-bench.XXXXXX)
qemu=
trap '[ -n "$qemu" ] && kill "$qemu" 2>/dev/null; rm -rf "$scratch"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

# The board without the two recipes, in a scratch copy of the source tree.
mkdir "$scratch/repo"
cp -a recipes boards overlays VERSION "$scratch/repo/"
ln -s "$PWD/Package.swift" "$scratch/repo/Package.swift"
sed -i '/^  - etcd$/d; /^  - docker$/d' "$scratch/repo/boards/amd64-usr.yaml"

build() {  # build NAME REPO: a cold build (own cache) into $scratch/out-NAME, its report in $scratch/NAME.json
  local start_ns=$(date +%s%N)
  "$CORESDK" build image --board amd64-usr --repo "$2" --output "$scratch/out-$1" --cache-dir "$scratch/cache-$1" \
    --json >"$scratch/$1.json" 2>/dev/null
  echo $(( ($(date +%s%N) - start_ns) / 1000000 )) >"$scratch/$1.ms"
}
build without "$scratch/repo"
build with "$PWD"

sizes() {  # sizes LABEL NAME
  python3 - "$1" "$scratch/$2.json" "$(cat "$scratch/$2.ms")" <<'PY'
import json, os, sys
label, report, ms = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
usr = report["usr"]
qcow2 = os.path.getsize(os.path.join(report["outputDirectory"], "coreos_production_qemu_image.img"))
print(f"{label:<34} cold build {ms / 1000:5.1f} s, /usr files {usr['contentBytes'] / 2**20:6.1f} MiB, "
      f"/usr squashfs {usr['imageBytes'] / 2**20:6.1f} MiB, qcow2 {qcow2 / 2**20:6.1f} MiB")
PY
}
sizes "without etcd and docker:" without
sizes "with etcd and docker (default):" with
with=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputDirectory"])' "$scratch/with.json")
without=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputDirectory"])' "$scratch/without.json")

ssh-keygen -q -t ed25519 -N "" -f "$scratch/key"
ssh_cmd() { ssh -i "$scratch/key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR core@127.0.0.1 "$@"; }

boot() {  # boot LABEL IMAGE_DIR CLOUD_CONFIG [COMMANDS AFTER LOGIN]
  local label=$1 disk=$scratch/disk.qcow2 start_ns
  cp "$2/coreos_production_qemu_image.img" "$disk"
  printf '%s' "$3" >"$scratch/cloud-config.yml"
  "$CORESDK" inject cloud-config "$disk" "$scratch/cloud-config.yml" --ssh-key "$scratch/key.pub" >/dev/null
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  start_ns=$(date +%s%N)
  "$CORESDK" qemu "$disk" --ssh-port "$port" --serial-log "$scratch/serial.log" >/dev/null 2>&1 &
  qemu=$!
  until ssh_cmd true 2>/dev/null; do kill -0 "$qemu" || { echo "QEMU exited" >&2; exit 1; }; sleep 1; done
  local ssh_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  ssh_cmd "${4:-true}" >/dev/null
  local ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  # Settled: the boot's jobs are done (the cloud-config's starts included) and the boot check ran.
  ssh_cmd 'systemctl is-system-running --wait >/dev/null || true; sleep 50'
  printf '%-34s SSH after %5.1f s, ready after %5.1f s, memory in use %s MiB, failed units: %s\n' "$label" \
    "$(awk -v ms="$ssh_ms" 'BEGIN { print ms / 1000 }')" "$(awk -v ms="$ready_ms" 'BEGIN { print ms / 1000 }')" \
    "$(ssh_cmd 'free -m' | awk '/^Mem:/ {print $3}')" "$(ssh_cmd 'systemctl list-units --failed --no-legend --plain | wc -l')"
  ssh_cmd 'sudo systemctl poweroff' 2>/dev/null || true
  wait "$qemu" || true
  qemu=
}

boot "without etcd and docker:" "$without" $'#cloud-config\n'
boot "with them, not started:" "$with" $'#cloud-config\n'
# One etcd member and the docker engine, started by the cloud-config; then a container runs.
boot "with etcd + docker + a container:" "$with" $'#cloud-config\ncoreos:\n  etcd:\n    name: bench\n    addr: 127.0.0.1:4001\n    peer-addr: 127.0.0.1:7001\n  units:\n    - name: etcd.service\n      command: start\n    - name: docker.service\n      command: start\n' \
  'until systemctl is-active --quiet etcd docker; do sleep 1; done; etcdctl set /bench ok >/dev/null
   d=$(mktemp -d); mkdir "$d/bin"; cp /usr/bin/busybox "$d/bin/"; ln -s busybox "$d/bin/sh"; ln -s busybox "$d/bin/sleep"
   tar -C "$d" -c . | docker import - busybox >/dev/null; docker run -d --name idle busybox sleep 100000'
