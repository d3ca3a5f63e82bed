# shellcheck shell=bash
# Sourced by scripts/db-backup.sh and scripts/db-restore.sh: the direct PostgreSQL connection
# (host, port, user) and a temporary 0600 passfile, so the password never appears on a command
# line or in the environment of the PostgreSQL tools.
#
# Settings come from the environment (DATABASE_HOST / DATABASE_DIRECT_HOST, DATABASE_DIRECT_PORT
# or DATABASE_PORT, DATABASE_USER, DATABASE_PASSWORD_FILE or DATABASE_PASSWORD); when
# DATABASE_USER is unset, from native/.run/env (written by `bash native/infra.sh up`).

DB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

db_die() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

if [[ -z "${DATABASE_USER:-}" && -f "$DB_ROOT/native/.run/env" ]]; then
  set -a
  # shellcheck source=/dev/null
  . "$DB_ROOT/native/.run/env"
  set +a
fi

DB_HOST="${DATABASE_DIRECT_HOST:-${DATABASE_HOST:-127.0.0.1}}"
DB_PORT="${DATABASE_DIRECT_PORT:-${DATABASE_PORT:-5432}}"
DB_USER="${DATABASE_USER:-}"
[[ -n "$DB_USER" ]] || db_die "DATABASE_USER is not set (and native/.run/env is missing)"

# db_passfile: writes the passfile, exports PGPASSFILE, and removes it when the script exits.
db_passfile() {
  local password
  if [[ -n "${DATABASE_PASSWORD_FILE:-}" ]]; then
    password="$(tr -d '\n' <"$DATABASE_PASSWORD_FILE")"
  elif [[ -n "${DATABASE_PASSWORD:-}" ]]; then
    password="$DATABASE_PASSWORD"
  else
    db_die "DATABASE_PASSWORD_FILE or DATABASE_PASSWORD must be set"
  fi
  DB_PASSFILE="$(mktemp)"
  chmod 600 "$DB_PASSFILE"
  # .pgpass: host:port:database:user:password, with ':' and '\' escaped.
  printf '%s:%s:*:%s:%s\n' "$DB_HOST" "$DB_PORT" "$DB_USER" "$(printf '%s' "$password" | sed 's/[\\:]/\\&/g')" \
    >"$DB_PASSFILE"
  export PGPASSFILE="$DB_PASSFILE"
}

# db_psql DATABASE ARGS...: psql on the direct connection, stopping at the first error.
db_psql() {
  local db="$1"
  shift
  psql --host="$DB_HOST" --port="$DB_PORT" --username="$DB_USER" --no-password --dbname="$db" \
    -X -q -v ON_ERROR_STOP=1 "$@"
}
