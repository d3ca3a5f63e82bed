#!/usr/bin/env bash
# Restores a scripts/db-backup.sh archive (pg_dump custom format) into a database you name, over
# the direct PostgreSQL port.
#
#   bash scripts/db-restore.sh FILE DATABASE           into a NEW database
#   bash scripts/db-restore.sh --clean FILE DATABASE   over an EXISTING database
#
# Without --clean (the --create semantics, but under the name you give, not the dumped one):
# DATABASE must not exist; it is created (owned by DATABASE_USER, which needs CREATEDB), the
# archive is restored in ONE transaction, and on any error the new database is dropped again:
# either a complete copy or nothing. This is the safe way: restore beside the live database,
# check it (row counts, `npm run reconcile` against it), then switch over (see docs/operations.md).
#
# With --clean: DATABASE must exist; every object in the archive is dropped and recreated
# (pg_restore --clean --if-exists), in one transaction, so an error leaves the database as it
# was. Objects the archive does not contain are left alone. Stop every service that uses the
# database first. Refused for TimescaleDB archives: restore those into a new database.
#
# Ownership and grants in the archive are not restored (--no-owner --no-acl): objects belong to
# the restoring role. TimescaleDB archives get the documented procedure: CREATE EXTENSION
# timescaledb, SELECT timescaledb_pre_restore(), pg_restore (not parallel), SELECT
# timescaledb_post_restore(); the server's TimescaleDB version must be the dump's.
# Connection settings: see scripts/db-conn.sh.
set -euo pipefail

# shellcheck source=scripts/db-conn.sh
. "$(dirname "${BASH_SOURCE[0]}")/db-conn.sh"

clean=0
if [[ "${1:-}" == --clean ]]; then
  clean=1
  shift
fi
if [[ "${1:-}" == -h || "${1:-}" == --help || $# -ne 2 ]]; then
  sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  [[ $# -eq 2 ]] || exit 2
  exit 0
fi
file="$1"
target="$2"
[[ -r "$file" ]] || db_die "cannot read $file"
[[ "$target" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || db_die "database name '$target' must be [A-Za-z_][A-Za-z0-9_]*"
command -v pg_restore >/dev/null || db_die "pg_restore not found (Debian: apt-get install postgresql-client-15)"

listing="$(pg_restore --list "$file")" || db_die "$file is not a pg_dump custom-format archive"
timescale=0
grep -q ' EXTENSION - timescaledb' <<<"$listing" && timescale=1

db_passfile
created=0
cleanup() {
  local rc=$?
  if ((rc != 0 && created)); then
    printf 'db-restore: restore failed; dropping the half-made database %s\n' "$target" >&2
    db_psql postgres -c "DROP DATABASE IF EXISTS \"$target\"" || true
  fi
  rm -f "$DB_PASSFILE"
  exit "$rc"
}
trap cleanup EXIT

# (psql variables are interpolated in scripts read from stdin, not in -c)
exists="$(db_psql postgres -tA -v db="$target" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db'")"
if ((clean)); then
  [[ "$exists" == 1 ]] || db_die "database $target does not exist (without --clean it is created)"
  ((timescale == 0)) || db_die "--clean over a TimescaleDB database is not supported: restore into a new database"
else
  [[ "$exists" == 0 ]] || db_die "database $target already exists: pick a new name, or --clean to overwrite its objects"
  db_psql postgres -c "CREATE DATABASE \"$target\""
  created=1
fi

started=$SECONDS
if ((timescale)); then
  db_psql "$target" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' -c 'SELECT timescaledb_pre_restore()' >/dev/null
fi
args=(--host="$DB_HOST" --port="$DB_PORT" --username="$DB_USER" --no-password --dbname="$target"
  --no-owner --no-acl --exit-on-error --single-transaction)
((clean)) && args+=(--clean --if-exists)
pg_restore "${args[@]}" "$file"
if ((timescale)); then
  db_psql "$target" -c 'SELECT timescaledb_post_restore()' >/dev/null
fi
# Fresh planner statistics: pg_restore does not carry them.
db_psql "$target" -c 'ANALYZE'
created=0
printf 'db-restore: %s restored into %s%s in %ss\n' "$file" "$target" "$( ((clean)) && echo ' (--clean)')" \
  "$((SECONDS - started))"
