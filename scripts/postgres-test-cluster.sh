#!/bin/bash
# A throwaway PostgreSQL cluster for tests, made the Debian way (pg_createcluster, pg_ctlcluster),
# listening on 127.0.0.1 only, with a login role "coresdk" that needs its password over TCP.
#
#   postgres-test-cluster.sh start OWNER_PID     prints "CLUSTER PORT PASSWORD"
#   postgres-test-cluster.sh createdb CLUSTER DB  a new empty database owned by coresdk
#   postgres-test-cluster.sh stop CLUSTER         stops and deletes the cluster
#
# The cluster is named after the test process that owns it (coresdk-test-PID-RANDOM); `start`
# deletes the clusters of owners that are gone, so a test process killed before its cleanup
# leaves nothing behind for long. Needs root (pg_createcluster writes /etc/postgresql), or sudo.
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"

version() {
  local version
  version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
  if ! command -v pg_createcluster >/dev/null || [ -z "$version" ] || [ ! -x "/usr/lib/postgresql/$version/bin/postgres" ]; then
    echo "PostgreSQL is not installed: run scripts/setup.sh (it installs Debian's postgresql)" >&2
    exit 3
  fi
  echo "$version"
}

port_of() { pg_lsclusters -h | awk -v name="$1" '$2 == name { print $3 }'; }

admin() {  # admin PORT SQL: as the superuser, over the socket (local connections are trusted)
  $SUDO psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$1" -U postgres -d postgres -c "$2" >&2
}

drop_abandoned() {
  local name owner
  for name in $(pg_lsclusters -h | awk -v v="$1" '$1 == v && $2 ~ /^coresdk-test-[0-9]+-/ { print $2 }'); do
    owner=${name#coresdk-test-}; owner=${owner%%-*}
    [ -d "/proc/$owner" ] || $SUDO pg_dropcluster --stop "$1" "$name" >&2 || true
  done
}

start() {
  local owner=$1 version name port password
  version=$(version)
  drop_abandoned "$version"
  password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  for _ in 1 2 3; do
    name="coresdk-test-$owner-$RANDOM"
    port=$((20000 + RANDOM % 40000))
    # Something listens there already (another cluster of ours is in pg_lsclusters too).
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || [ -n "$(pg_lsclusters -h | awk -v p="$port" '$3 == p')" ]; then
      continue
    fi
    $SUDO pg_createcluster --quiet --start-conf=manual -p "$port" --locale=C.UTF-8 \
      "$version" "$name" -- --auth-local=trust --auth-host=scram-sha-256 >&2
    # In conf.d rather than with -o, which writes 127.0.0.1 unquoted (a syntax error to postgres).
    echo "listen_addresses = '127.0.0.1'" | $SUDO tee "/etc/postgresql/$version/$name/conf.d/coresdk-test.conf" >/dev/null
    # --skip-systemctl-redirect: started directly, also where systemd runs (a container has none).
    if $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2; then
      admin "$port" "CREATE ROLE coresdk LOGIN CREATEDB PASSWORD '$password'"
      echo "$name $port $password"
      return
    fi
    $SUDO pg_dropcluster --stop "$version" "$name" >&2 || true
  done
  echo "could not start a PostgreSQL test cluster (see the messages above)" >&2
  exit 1
}

case "${1:-}" in
  start) start "${2:?owner pid}" ;;
  createdb)
    port=$(port_of "${2:?cluster}")
    [ -n "$port" ] || { echo "no PostgreSQL cluster named $2" >&2; exit 1; }
    admin "$port" "CREATE DATABASE \"${3:?database}\" OWNER coresdk" ;;
  stop) $SUDO pg_dropcluster --stop "$(version)" "${2:?cluster}" ;;
  *) echo "usage: $0 start OWNER_PID | createdb CLUSTER DB | stop CLUSTER" >&2; exit 2 ;;
esac
