#!/usr/bin/env bash
# Start N android_world emulators, one per container of android_world's own Docker
# image (its Dockerfile runs the emulator and the FastAPI server on port 5000), and
# print the `servers` list and the `[env.grants] http` entry for a steprl run config.
#
#   scripts/androidworld-fleet.sh N [--image android_world:latest] [--base-port 5000]
#                                   [--host 127.0.0.1]
#   scripts/androidworld-fleet.sh --stop
#
# Build the image first in an android_world checkout (`docker build -t
# android_world:latest .`; apply plugins/androidworld/server-patch/ui_elements.patch
# before it for text observations that list the screen). Emulator i's server listens
# on host port BASE+i; each container is named androidworld-<port>. Every emulator must
# run the same suite: give the run config a `suite_seed`, and the adapter re-creates
# the suite on each server before its first episode.
#
# Needs Docker and KVM (the containers run --privileged, as android_world's README
# says). Not run in steprl's CI (no KVM there); the tests start N local
# protocol-faithful servers instead (tests/tests/server_pool.rs).
set -euo pipefail

n=""
image=android_world:latest
base_port=5000
host=127.0.0.1
stop=0
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --stop) stop=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "androidworld-fleet.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) n="$1"; shift ;;
  esac
done

if [ "$stop" = 1 ]; then
  ids=$(docker ps -aq --filter label=steprl.fleet=androidworld)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  echo "stopped $(echo "$ids" | grep -c . || true) android_world containers"
  exit 0
fi

case "$n" in
  ''|*[!0-9]*) echo "androidworld-fleet.sh: give the number of emulators, e.g. scripts/androidworld-fleet.sh 8 (see --help)" >&2; exit 2 ;;
esac
[ "$n" -ge 1 ] || { echo "androidworld-fleet.sh: N must be at least 1" >&2; exit 2; }
command -v docker >/dev/null || { echo "androidworld-fleet.sh: docker is not installed" >&2; exit 2; }
docker image inspect "$image" >/dev/null 2>&1 || { echo "androidworld-fleet.sh: no image $image (docker build -t $image . in an android_world checkout)" >&2; exit 2; }
[ -e /dev/kvm ] || echo "androidworld-fleet.sh: warning: no /dev/kvm; the emulators will not boot in useful time" >&2

for i in $(seq 0 $((n - 1))); do
  port=$((base_port + i))
  docker run -d --privileged --name "androidworld-$port" --label steprl.fleet=androidworld \
    -p "$host:$port:5000" "$image" >/dev/null
  echo "started androidworld-$port (server http://$host:$port)" >&2
done

echo "waiting for the servers (GET /health)..." >&2
for i in $(seq 0 $((n - 1))); do
  port=$((base_port + i))
  for _ in $(seq 1 300); do
    curl -sf "http://$host:$port/health" >/dev/null 2>&1 && break
    sleep 2
  done
  curl -sf "http://$host:$port/health" >/dev/null 2>&1 \
    && echo "  http://$host:$port up" >&2 \
    || echo "  http://$host:$port not answering yet (steprl's health table will say so)" >&2
done

last=$((base_port + n - 1))
cat <<CONF
# [env.config] and [env.grants] of a steprl run config for this fleet:
servers = ["http://$host:$base_port-$last"]
# [env.grants]
http = ["$host:$base_port-$last"]
CONF
