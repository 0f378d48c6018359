#!/bin/sh
# The official postgres image's entry-point contract, in small, for the image scripts/image.sh builds from Debian's
# postgresql package: on an empty $PGDATA, initdb as POSTGRES_USER (default postgres) with the password from
# POSTGRES_PASSWORD_FILE (a Docker secret) or POSTGRES_PASSWORD, and create POSTGRES_DB (default: the user's name);
# then run the command (`postgres -c …`), as PID 1 so it gets the stop signal itself.
set -eu
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || { echo "error: cannot read POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE" >&2; exit 1; }
    password=$(cat "$POSTGRES_PASSWORD_FILE")
  else
    password=${POSTGRES_PASSWORD:-}
  fi
  [ -n "$password" ] || { echo "error: set POSTGRES_PASSWORD_FILE (a Docker secret) or POSTGRES_PASSWORD" >&2; exit 1; }
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s' "$password" >"$pwfile"
  # Local socket connections (inside this container only) are trusted; over TCP a password is always asked.
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  # Reachable from another container too (an overlay network), still only with the password.
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -j -D "$PGDATA" postgres >/dev/null
  fi
  echo "docker-entrypoint: initialised $PGDATA: user $user, database $db" >&2
fi
exec "$@"
