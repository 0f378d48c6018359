#!/usr/bin/env bash
# Create .venv and install tagpin with its dev tools, idempotently (reinstalls only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null || ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "bootstrap: installing python3 (3.11 or newer is needed)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
if [[ ! -x .venv/bin/python ]]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    echo "bootstrap: installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv && python3 -m venv .venv
  fi
fi
stamp=.venv/.tagpin-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing tagpin and its dev tools into .venv" >&2
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1 \
     || ! .venv/bin/python -c 'import bot, recovery, docker, slack_bolt, sqlmodel, flask, playwright'; then
    tail -30 "$log" >&2; echo "bootstrap: install failed (full log: $log)" >&2; exit 1
  fi
  echo "$want" >"$stamp"
fi
