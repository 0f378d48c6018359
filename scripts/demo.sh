#!/usr/bin/env bash
# The demo: a local Swarm + registry, sample images (an old `latest` already on the node -- the incident),
# then tagpin resolves, deploys tenant "acme" pinned to digests, proves it, and shows status, drift and audit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh
export PATH="$PWD/.venv/bin:$PATH"
export TAGPIN_STACK_TEMPLATE=${TAGPIN_STACK_TEMPLATE:-$PWD/stacks/demo.yml}
export TAGPIN_DATABASE_URL=${TAGPIN_DATABASE_URL:-sqlite:///$PWD/demo.db}
export TAGPIN_ACTOR=${TAGPIN_ACTOR:-demo}
REG=127.0.0.1:5000

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "a fresh start: no acme stack, an empty demo database"
if docker service ls -q --filter label=com.docker.stack.namespace=acme | grep -q .; then
  docker stack rm acme >/dev/null
  while docker service ls -q --filter label=com.docker.stack.namespace=acme | grep -q .; do sleep 0.5; done
fi
rm -f demo.db demo.db-wal demo.db-shm
python -m tests.support.oci demo/frontend --delete 1.11.0

step "sample images in the local registry"
python -m tests.support.oci demo/frontend latest 1.2.0 1.9.0 1.10.0 2.0.0-rc.1 | sed 's/^/  pushed /'
python -m tests.support.oci demo/backend 3.1.0 3.2.0 v3.2.1=3.2.1 3.2.1 4.0.0 | sed 's/^/  pushed /'
python -m tests.support.oci demo/worker 1.4.0-slim 1.5.0-slim 1.5.0-alpine 1.6.0-alpine | sed 's/^/  pushed /'
step "the incident's trap: an old 'latest' already on the node"
docker pull -q "$REG/demo/frontend:latest" >/dev/null && echo "  $REG/demo/frontend:latest is in the node's image cache"

step "resolve: the highest version the policy allows, never latest"
run tagpin resolve "$REG/demo/frontend" --constraint ">=1.0.0 <2.0.0"
step "the chat shell: /deploy acme (a new tenant: the plan waits for Confirm), then /tagpin status"
printf '/deploy acme\nconfirm\n/tagpin status acme\n' | tagpin shell --name alice

step "the same, from the command line, for scripts and pipelines"
run tagpin status acme

step "a new release appears: 1.11.0"
python -m tests.support.oci demo/frontend 1.11.0 | sed 's/^/  pushed /'
run tagpin drift acme || true
printf '/deploy acme\n/audit acme\n' | tagpin shell --name alice

step "recovery: a submit rejected with 409 'client outdated' saves the user's work (headless Chromium)"
python scripts/recovery_demo.py demo-recovery.png
printf '\nDone. Try: tagpin deploy acme --yes; tagpin rollback acme; tagpin --help (database: %s)\n' "$TAGPIN_DATABASE_URL"
printf 'The annotation demo page: . .venv/bin/activate; TAGPIN_RECOVERY_DEMO=1 honcho start web, then open http://127.0.0.1:8000/demo/\n'
