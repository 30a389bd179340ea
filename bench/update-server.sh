#!/bin/bash
# Prints how fast `coresdk serve` answers update checks: 10,000 distinct simulated machines (wrk on
# loopback, a Lua script giving every request another machine id) against the SQLite store and
# against PostgreSQL (Debian's, a throwaway cluster), checks/s with p50/p99 latency; and, as the
# ceiling any Omaha server on this machine has, nginx answering a fixed Omaha response.
# Usage: bench/update-server.sh [IMAGE.bin]   (default: builds the default board's image into out/)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/default-image.sh "$@"
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done
scratch=$(mktemp -d /tmp/coresdk-serve-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${cluster:-}" ]] && bash scripts/postgres-test-cluster.sh stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
MACHINES=10000 SECONDS_EACH=${BENCH_SECONDS:-15} CONNECTIONS=${BENCH_CONNECTIONS:-32}

"$CORESDK" keys generate --private-key "$scratch/key.pem" --public-key "$scratch/key.pub.pem" >/dev/null
"$CORESDK" payload generate --image "$image" --private-key "$scratch/key.pem" --output "$scratch/coreos_production_update.gz" >/dev/null

# serve NAME [--database URL]: starts a server on a free port; sets $url
serve() {
  local name=$1; shift
  "$CORESDK" serve --data "$scratch/$name" --listen 127.0.0.1:0 --json "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do
    port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$scratch/$name.out" 2>/dev/null) && break
    sleep 0.1
  done
  url=http://127.0.0.1:$port
  "$CORESDK" updates channel create bench --public-key "$scratch/key.pub.pem" --server "$url" >/dev/null
  "$CORESDK" updates publish bench "$scratch/coreos_production_update.gz" --server "$url" >/dev/null
  "$CORESDK" updates group set bench --channel bench --server "$url" >/dev/null
}

cat >"$scratch/checks.lua" <<EOF
-- Each request is another machine of $MACHINES, running an older version: the first round gets
-- grants (writes), later rounds the same offer again (a read and a write of last_check).
-- (setup runs in the main Lua state and sets each thread's global "id"; a local would hide it.)
local threads, counter = 0, 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function request()
  counter = counter + 1
  local machine = string.format("%032x", (counter * 2 + id) % $MACHINES)
  local body = '<?xml version="1.0" encoding="UTF-8"?><request protocol="3.0" version="update_engine-0.4.10" '
    .. 'updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">'
    .. '<os version="Chateau" platform="CoreOS" sp="1.0.0_x86_64"></os>'
    .. '<app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="1.0.0" track="bench" machineid="' .. machine
    .. '" board="amd64-usr" bootid="{00000000-0000-0000-0000-000000000000}" oem="" lang="en-US" delta_okay="false">'
    .. '<ping active="1"></ping><updatecheck></updatecheck><event eventtype="3" eventresult="2" previousversion=""></event>'
    .. '</app></request>'
  return wrk.format("POST", "/v1/update/", {["Content-Type"] = "text/xml"}, body)
end
EOF

# load NAME URL: wrk's rate and latency percentiles
load() {
  wrk -t 2 -c "$CONNECTIONS" -d "${SECONDS_EACH}s" --latency -s "$scratch/checks.lua" "$2/v1/update/" >"$scratch/$1.wrk"
  local rate p50 p99 errors
  rate=$(awk '/^Requests\/sec/ { print int($2) }' "$scratch/$1.wrk")
  p50=$(awk '$1 == "50%" { print $2 }' "$scratch/$1.wrk")
  p99=$(awk '$1 == "99%" { print $2 }' "$scratch/$1.wrk")
  errors=$(awk '/Non-2xx/ { print $NF }' "$scratch/$1.wrk")
  printf '%-34s %7s checks/s   p50 %-8s p99 %-8s %s\n' "$1" "$rate" "$p50" "$p99" "${errors:+non-2xx: $errors}"
}

echo "update checks from $MACHINES machines, ${SECONDS_EACH} s each, $CONNECTIONS connections, $(nproc) cores (client and server share them)"
serve sqlite
load "coresdk serve (SQLite)" "$url"
recorded() { "$CORESDK" updates instances --group bench --server "$url" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
echo "  machines recorded: $(recorded)"

read -r cluster pg_port pg_password < <(bash scripts/postgres-test-cluster.sh start $$)
bash scripts/postgres-test-cluster.sh createdb "$cluster" updates
serve postgres --database "postgres://coresdk:$pg_password@127.0.0.1:$pg_port/updates"
load "coresdk serve (PostgreSQL)" "$url"
echo "  machines recorded: $(recorded)"

# The ceiling: nginx sending a fixed update response, no state, no decision.
response=$("$CORESDK" payload omaha "$scratch/coreos_production_update.gz" --url http://127.0.0.1/payloads/)
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$scratch/nginx"
cat >"$scratch/nginx.conf" <<EOF
worker_processes 1; daemon off; error_log $scratch/nginx/error.log; pid $scratch/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $scratch/nginx; proxy_temp_path $scratch/nginx;
  fastcgi_temp_path $scratch/nginx; uwsgi_temp_path $scratch/nginx; scgi_temp_path $scratch/nginx;
  server { listen 127.0.0.1:$nginx_port; location / { default_type text/xml; return 200 '$response'; } } }
EOF
nginx -c "$scratch/nginx.conf" -p "$scratch/nginx" &
pids+=($!)
sleep 1
load "nginx, a fixed response (ceiling)" "http://127.0.0.1:$nginx_port"
