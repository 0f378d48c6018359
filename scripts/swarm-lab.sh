#!/usr/bin/env bash
# A 3-node Docker Swarm on this one machine (1 manager, 2 workers) and a registry every node reaches.
#
# Each node is an extra dockerd in a network namespace of its own (and a UTS namespace, so it has its own
# hostname and Swarm names it), joined to the host by a veth on a bridge of the lab's own, in a private /24.
# Nodes have no default route: traffic stays on the lab bridge. The host's own dockerd, swarm and registry are
# not touched.
#
# Usage: scripts/swarm-lab.sh up       build or repair the lab (idempotent); prints `export …` lines to eval
#        scripts/swarm-lab.sh env      print those lines again
#        scripts/swarm-lab.sh status   what is there (exit 1 if the lab is not whole)
#        scripts/swarm-lab.sh down     remove every daemon, namespace, link, mount and file the lab made (safe twice)
#        scripts/swarm-lab.sh restart NODE    start NODE's dockerd again if it died (part of `up`)
set -euo pipefail

NET=${TAGPIN_LAB_NET:-10.231.0}            # the lab's /24; the host end of the bridge is .1
BRIDGE=tplab0
LAB_DIR=/var/lib/tagpin-lab                # data roots, logs, registry storage
RUN_DIR=/run/tagpin-lab                    # sockets, exec roots, pid files (short paths: unix socket limit)
REGISTRY_PORT=${TAGPIN_LAB_REGISTRY_PORT:-5100}
REGISTRY=$NET.1:$REGISTRY_PORT
NODES=(lab-manager lab-worker1 lab-worker2)

# shellcheck source=scripts/registry.sh
source "$(dirname "$0")/registry.sh"

say() { printf 'swarm-lab: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

address() {  # address NODE → its lab address
  local i
  for i in "${!NODES[@]}"; do [[ ${NODES[$i]} == "$1" ]] && { echo "$NET.$((11 + i))"; return; }; done
  die "unknown node $1 (known: ${NODES[*]})"
}
sock() { echo "$RUN_DIR/$1/docker.sock"; }
dk() { local node=$1; shift; docker -H "unix://$(sock "$node")" "$@"; }
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
veth() { echo "tpl-${1#lab-}"; }   # host end of a node's link (interface names are at most 15 characters)

need() {
  [[ $(id -u) == 0 ]] || die "must run as root (network namespaces, dockerd)"
  local missing=() spec
  for spec in iproute2:ip docker.io:dockerd docker-registry:docker-registry util-linux:nsenter; do
    command -v "${spec#*:}" >/dev/null 2>&1 || missing+=("${spec%%:*}")
  done
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

net_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local node addr
  for node in "${NODES[@]}"; do
    addr=$(address "$node")
    [[ -e /var/run/netns/$node ]] || ip netns add "$node"
    if ! ip link show "$(veth "$node")" >/dev/null 2>&1; then
      ip -n "$node" link del eth0 2>/dev/null || true
      ip link add "$(veth "$node")" type veth peer name eth0 netns "$node"
    fi
    ip link set "$(veth "$node")" master "$BRIDGE" up
    ip -n "$node" link set lo up
    ip -n "$node" addr replace "$addr/24" dev eth0
    ip -n "$node" link set eth0 up
  done
}

start_node() {
  local node=$1 dir="$RUN_DIR/$1"
  mkdir -p "$dir" "$LAB_DIR/$node"
  if alive "$dir/docker.pid" && dk "$node" info >/dev/null 2>&1; then return 0; fi
  if [[ -f $dir/docker.pid ]] && ! alive "$dir/docker.pid"; then
    rm -f "$dir/docker.pid"
    # a killed daemon leaves its containerd and shims: the new daemon starts its own
    kill_matching "$dir/"
  fi
  [[ -f $LAB_DIR/daemon.json ]] || echo '{}' >"$LAB_DIR/daemon.json"   # never the host's /etc/docker/daemon.json
  say "starting dockerd for $node ($(address "$node"))"
  # nsenter, not `ip netns exec`: that remounts /sys, and dockerd then cannot see the cgroups.
  nohup nsenter --net="/var/run/netns/$node" -- unshare --uts -- \
    sh -c 'hostname "$1"; shift; exec "$@"' sh "$node" \
    dockerd --data-root "$LAB_DIR/$node" --exec-root "$dir/exec" -H "unix://$dir/docker.sock" \
      --pidfile "$dir/docker.pid" --config-file "$LAB_DIR/daemon.json" --cgroup-parent "tagpin-lab-$node" \
      --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
      --insecure-registry "$REGISTRY" >>"$LAB_DIR/$node.log" 2>&1 &
  local _
  for _ in $(seq 1 120); do dk "$node" info >/dev/null 2>&1 && return 0; sleep 0.5; done
  tail -20 "$LAB_DIR/$node.log" >&2
  die "dockerd of $node did not come up (log: $LAB_DIR/$node.log)"
}

start_registry() {
  local pidfile="$RUN_DIR/registry.pid"
  if alive "$pidfile" && curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then return 0; fi
  mkdir -p "$RUN_DIR" "$LAB_DIR"
  say "starting the lab registry on $REGISTRY"
  serve_registry "$REGISTRY" "$LAB_DIR" "$LAB_DIR/registry.log" "$pidfile" || die "the lab registry did not come up"
}

swarm_up() {
  local manager=${NODES[0]} maddr token node
  maddr=$(address "$manager")
  if [[ $(dk "$manager" info --format '{{.Swarm.LocalNodeState}}') != active ]]; then
    say "initialising the lab swarm on $maddr"
    dk "$manager" swarm init --advertise-addr "$maddr" --listen-addr "$maddr:2377" >/dev/null
  fi
  token=$(dk "$manager" swarm join-token -q worker)
  for node in "${NODES[@]:1}"; do
    if [[ $(dk "$node" info --format '{{.Swarm.LocalNodeState}}') != active ]]; then
      say "joining $node"
      dk "$node" swarm join --token "$token" --advertise-addr "$(address "$node")" "$maddr:2377" >/dev/null
    fi
  done
  # joined is not yet ready: wait until the manager sees every node Ready
  local _
  for _ in $(seq 1 120); do
    [[ $(dk "$manager" node ls --format '{{.Hostname}} {{.Status}}' | grep -c ' Ready$') -ge ${#NODES[@]} ]] && return 0
    sleep 0.5
  done
  dk "$manager" node ls >&2
  die "not every lab node is Ready"
}

print_env() {
  echo "export DOCKER_HOST=unix://$(sock "${NODES[0]}")"
  echo "export TAGPIN_LAB_REGISTRY=$REGISTRY"
  echo "export TAGPIN_INSECURE_REGISTRIES=$REGISTRY"
  local node
  for node in "${NODES[@]}"; do echo "export TAGPIN_LAB_$(echo "${node#lab-}" | tr a-z A-Z)=unix://$(sock "$node")"; done
}

kill_matching() {  # kill every process whose command line names $1 (a node's run dir): containerd, shims
  local pids
  pids=$(pgrep -f -- "$1" || true)
  [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
}

stop_node() {
  # No graceful stop: the data root is deleted next, and dockerd would wait up to 15 s for each container.
  local node=$1 dir="$RUN_DIR/$1" pids
  if alive "$dir/docker.pid"; then kill -9 "$(cat "$dir/docker.pid")" 2>/dev/null || true; fi
  kill_matching "$dir/"
  # whatever is left in the node's network namespace (containers on its host network) and cgroups
  if [[ -e /var/run/netns/$node ]]; then
    pids=$(ip netns pids "$node" 2>/dev/null || true)
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
  fi
  local cg
  while read -r cg; do
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done < <(lab_cgroups "tagpin-lab-$node")
}

lab_cgroups() {  # every cgroup dir named $1 in any hierarchy, also under the cgroup this shell was put in
  find /sys/fs/cgroup -maxdepth 7 -type d -name "$1" -prune 2>/dev/null || true
}

remove_cgroups() {
  local cg _ left
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=0
    while read -r cg; do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || left=1
    done < <(lab_cgroups 'tagpin-lab-*')
    ((left)) || return 0
    sleep 0.5
  done
  say "left cgroups it could not remove: $(lab_cgroups 'tagpin-lab-*' | tr '\n' ' ')"
}

unmount_all() {  # every mount under the lab's dirs, deepest first
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v a="$LAB_DIR" -v b="$RUN_DIR" '$2 ~ "^"a || $2 ~ "^"b {print $2}' /proc/self/mounts | sort -r)
}

cmd_up() {
  need
  local started=$SECONDS node
  mkdir -p "$LAB_DIR" "$RUN_DIR"
  net_up
  start_registry
  for node in "${NODES[@]}"; do start_node "$node"; done
  swarm_up
  say "lab up in $((SECONDS - started)) s: ${NODES[*]} on $NET.0/24, registry $REGISTRY"
  print_env
}

cmd_down() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  local node
  for node in "${NODES[@]}"; do stop_node "$node"; done
  if alive "$RUN_DIR/registry.pid"; then kill "$(cat "$RUN_DIR/registry.pid")" 2>/dev/null || true; fi
  kill_matching "$LAB_DIR/registry.yml"
  unmount_all
  for node in "${NODES[@]}"; do
    ip link del "$(veth "$node")" 2>/dev/null || true
    if [[ -e /var/run/netns/$node ]]; then ip netns del "$node"; fi
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  remove_cgroups
  rm -rf "$RUN_DIR" "$LAB_DIR"
  say "lab down"
}

cmd_status() {
  local ok=0 node state
  ip link show "$BRIDGE" >/dev/null 2>&1 && say "bridge $BRIDGE: up ($NET.1/24)" || { say "bridge $BRIDGE: missing"; ok=1; }
  if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then say "registry $REGISTRY: up"; else say "registry $REGISTRY: down"; ok=1; fi
  for node in "${NODES[@]}"; do
    if alive "$RUN_DIR/$node/docker.pid" && state=$(dk "$node" info --format '{{.Name}} swarm={{.Swarm.LocalNodeState}}' 2>/dev/null); then
      say "$node $(address "$node"): dockerd up, $state"
    else
      say "$node $(address "$node"): dockerd down"; ok=1
    fi
  done
  if alive "$RUN_DIR/${NODES[0]}/docker.pid"; then dk "${NODES[0]}" node ls >&2 || ok=1; fi
  return $ok
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  restart) need; [[ -n ${2:-} ]] || die "usage: swarm-lab.sh restart NODE"; address "$2" >/dev/null; start_node "$2" ;;
  *) die "usage: swarm-lab.sh up|down|status|env|restart NODE" ;;
esac
