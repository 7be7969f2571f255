#!/usr/bin/env bash
# Start N OSWorld VMs with OSWorld's Docker image (happysixd/osworld-docker, the image
# OSWorld's own Docker provider runs), one container per VM, and print the `servers`
# list and the `[env.grants] http` entry for a steprl run config.
#
#   scripts/osworld-fleet.sh N [--qcow2 PATH] [--base-port 5000] [--host 127.0.0.1]
#                              [--ram 4G] [--cpus 4] [--disk 32G] [--image IMAGE]
#   scripts/osworld-fleet.sh --recreate PORT [same options]   # one VM, fresh
#   scripts/osworld-fleet.sh --stop
#
# VM i's server listens on host port BASE+i (the container's 5000); its noVNC viewer
# on 8006+i*10, Chrome's debugging port on 9222+i*10 and VLC's on 8080+i*10 of the
# host (steps of 10 keep the four port ranges apart for up to 100 VMs on one host).
# Each container is named osworld-<server port>; `--recreate PORT` replaces that one
# with a fresh container (a pristine VM) and waits for its server, so one revert
# controller reverts whichever VM a revert names:
#
#   plugins/osworld/controller/revert_controller.py --bind 127.0.0.1:7000 --command \
#     'scripts/osworld-fleet.sh --recreate $SERVER_PORT --qcow2 ~/VMs/Ubuntu.qcow2'
#
# Needs Docker and KVM (/dev/kvm; without it QEMU runs unaccelerated and a VM takes
# many minutes to boot) and OSWorld's Ubuntu.qcow2 (from huggingface.co/datasets/
# xlangai/ubuntu_osworld). Mounted read-only, the image is shared by every container.
# Not run in steprl's CI (its machines have no KVM); the tests start N local
# protocol-faithful servers instead (tests/tests/server_pool.rs).
set -euo pipefail

n=""
qcow2="${OSWORLD_QCOW2:-$HOME/VMs/Ubuntu.qcow2}"
base_port=5000
host=127.0.0.1
ram=4G
cpus=4
disk=32G
image=happysixd/osworld-docker
stop=0
recreate=""
while [ $# -gt 0 ]; do
  case "$1" in
    --qcow2) qcow2="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --ram) ram="$2"; shift 2 ;;
    --cpus) cpus="$2"; shift 2 ;;
    --disk) disk="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --recreate) recreate="$2"; shift 2 ;;
    --stop) stop=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "osworld-fleet.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) n="$1"; shift ;;
  esac
done

if [ "$stop" = 1 ]; then
  ids=$(docker ps -aq --filter label=steprl.fleet=osworld)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  echo "stopped $(echo "$ids" | grep -c . || true) OSWorld containers"
  exit 0
fi

[ -f "$qcow2" ] || { echo "osworld-fleet.sh: no VM image at $qcow2 (give --qcow2 PATH to OSWorld's Ubuntu.qcow2)" >&2; exit 2; }
command -v docker >/dev/null || { echo "osworld-fleet.sh: docker is not installed" >&2; exit 2; }
kvm=()
if [ -e /dev/kvm ]; then kvm=(--device /dev/kvm); else
  echo "osworld-fleet.sh: warning: no /dev/kvm, the VMs run without acceleration (very slow)" >&2
  kvm=(-e KVM=N)
fi

# Start VM i: its server on host port BASE+i, in container osworld-<that port>.
start_one() {
  local i=$1 port=$((base_port + $1))
  docker rm -f "osworld-$port" >/dev/null 2>&1 || true
  docker run -d --name "osworld-$port" --label steprl.fleet=osworld \
    --cap-add NET_ADMIN "${kvm[@]}" \
    -e DISK_SIZE="$disk" -e RAM_SIZE="$ram" -e CPU_CORES="$cpus" \
    -v "$(realpath "$qcow2")":/System.qcow2:ro \
    -p "$host:$port:5000" -p "$host:$((8006 + i * 10)):8006" \
    -p "$host:$((9222 + i * 10)):9222" -p "$host:$((8080 + i * 10)):8080" \
    "$image" >/dev/null
  echo "started osworld-$port (server http://$host:$port)" >&2
}

# Wait up to 10 minutes for VM i's server to answer GET /platform.
wait_one() {
  local port=$((base_port + $1))
  for _ in $(seq 1 300); do
    curl -sf "http://$host:$port/platform" >/dev/null 2>&1 && { echo "  http://$host:$port up" >&2; return 0; }
    sleep 2
  done
  echo "  http://$host:$port not answering yet (steprl's health table will say so)" >&2
  return 1
}

if [ -n "$recreate" ]; then
  case "$recreate" in ''|*[!0-9]*) echo "osworld-fleet.sh: --recreate takes the VM's server port" >&2; exit 2 ;; esac
  [ "$recreate" -ge "$base_port" ] || { echo "osworld-fleet.sh: port $recreate is below --base-port $base_port" >&2; exit 2; }
  start_one $((recreate - base_port))
  wait_one $((recreate - base_port))
  exit $?
fi

case "$n" in
  ''|*[!0-9]*) echo "osworld-fleet.sh: give the number of VMs, e.g. scripts/osworld-fleet.sh 8 (see --help)" >&2; exit 2 ;;
esac
[ "$n" -ge 1 ] || { echo "osworld-fleet.sh: N must be at least 1" >&2; exit 2; }

for i in $(seq 0 $((n - 1))); do start_one "$i"; done
echo "waiting for the VMs' servers (GET /platform)..." >&2
for i in $(seq 0 $((n - 1))); do wait_one "$i" || true; done

last=$((base_port + n - 1))
cat <<CONF
# [env.config] and [env.grants] of a steprl run config for this fleet:
servers = ["http://$host:$base_port-$last"]
# [env.grants]
http = ["$host:$base_port-$last"]
CONF
