# Sourced by services.sh and swarm-lab.sh: serve the reference registry (Debian's docker-registry) over plain http.
# serve_registry ADDR DIR LOG [PIDFILE]: config and storage in DIR, output appended to LOG; returns once /v2/ answers.
serve_registry() {
  local addr=$1 dir=$2 log=$3 pidfile=${4:-} _
  mkdir -p "$dir/registry"
  cat >"$dir/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/registry}, delete: {enabled: true}}
http: {addr: $addr}
YML
  nohup docker-registry serve "$dir/registry.yml" >>"$log" 2>&1 &
  [[ -z $pidfile ]] || echo $! >"$pidfile"
  for _ in $(seq 1 120); do curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && return 0; sleep 0.25; done
  printf 'registry on %s did not come up; last lines of %s:\n' "$addr" "$log" >&2
  tail -20 "$log" >&2
  return 1
}
