#!/bin/bash
# Boots the default board's image under QEMU (OVMF; TCG unless KVM is usable) and prints the time
# from QEMU's start to the login prompt on the serial console, to SSH answering, and the memory
# in use after boot (`free -m`). Builds the image first if out/ has none.
# Usage: bench/boot.sh [IMAGE.bin]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/default-image.sh "$@"
scratch=$(mktemp -d /tmp/coresdk-boot-bench.XXXXXX)
trap 'kill "$qemu" 2>/dev/null || true; rm -rf "$scratch"' EXIT

# A copy that lets core in with a throw-away key, given the way users do it: a cloud-config in OEM.
ssh-keygen -q -t ed25519 -N "" -f "$scratch/key"
cp --sparse=always "$image" "$scratch/disk.bin"
printf '#cloud-config\n' >"$scratch/cloud-config.yml"
"$CORESDK" inject cloud-config "$scratch/disk.bin" "$scratch/cloud-config.yml" --ssh-key "$scratch/key.pub" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_ns=$(date +%s%N)
"$CORESDK" qemu "$scratch/disk.bin" --ssh-port "$port" --serial-log "$scratch/serial.log" >/dev/null 2>&1 &
qemu=$!
elapsed() { echo "$(( ($(date +%s%N) - start_ns) / 100000000 ))" | sed 's/.$/.&/'; }
until grep -q "login:" "$scratch/serial.log" 2>/dev/null; do
  kill -0 "$qemu" 2>/dev/null || { echo "QEMU exited before the login prompt" >&2; tail -20 "$scratch/serial.log" >&2; exit 1; }
  sleep 0.5
done
echo "boot to serial login prompt: $(elapsed) s ($(grep -q -- '-accel kvm' <("$CORESDK" qemu "$scratch/disk.bin" --dry-run) && echo KVM || echo TCG))"
ssh_cmd=(ssh -i "$scratch/key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR core@127.0.0.1)
until "${ssh_cmd[@]}" true 2>/dev/null; do sleep 1; done
echo "boot to SSH login: $(elapsed) s"
"${ssh_cmd[@]}" 'systemctl is-system-running --wait >/dev/null || true; echo "memory in use after boot: $(free -m | awk "/^Mem:/ {print \$3}") MiB (free -m, of $(free -m | awk "/^Mem:/ {print \$2}") MiB)"'
"${ssh_cmd[@]}" 'systemd-analyze 2>/dev/null | head -1' || true
"${ssh_cmd[@]}" 'sudo systemctl poweroff' 2>/dev/null || true
wait "$qemu" || true
