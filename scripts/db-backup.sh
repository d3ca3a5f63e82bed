#!/usr/bin/env bash
# Logical backup of the exchange database: pg_dump in custom format (-Fc: compressed, restorable
# table by table, what scripts/db-restore.sh reads) over the DIRECT PostgreSQL port (PgBouncer's
# transaction pooling gives pg_dump no stable session).
#
#   bash scripts/db-backup.sh [-d DATABASE] [-o FILE]
#
#   -d DATABASE   database to dump (default: DATABASE_NAME, i.e. exchange)
#   -o FILE       output file (default: $BACKUP_DIR/<database>-<UTC time>.dump,
#                 BACKUP_DIR defaulting to native/.run/backups)
#
# Connection settings: see scripts/db-conn.sh (the environment, else native/.run/env). The
# password reaches pg_dump through a temporary 0600 passfile, never a command line.
#
# pg_dump takes one consistent snapshot (REPEATABLE READ) while the platform keeps running; the
# file is written under a temporary name, checked with `pg_restore --list`, then renamed, so a
# FILE that exists is a complete archive. With TimescaleDB, pg_dump may warn about circular
# foreign keys in hypertable chunks; that is expected (restore with scripts/db-restore.sh, which
# runs timescaledb_pre_restore()/post_restore()).
set -euo pipefail

# shellcheck source=scripts/db-conn.sh
. "$(dirname "${BASH_SOURCE[0]}")/db-conn.sh"

db="${DATABASE_NAME:-exchange}"
out=""
while getopts 'd:o:h' opt; do
  case "$opt" in
    d) db="$OPTARG" ;;
    o) out="$OPTARG" ;;
    h)
      sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) exit 2 ;;
  esac
done

command -v pg_dump >/dev/null || db_die "pg_dump not found (Debian: apt-get install postgresql-client-15)"

if [[ -z "$out" ]]; then
  dir="${BACKUP_DIR:-$DB_ROOT/native/.run/backups}"
  mkdir -p "$dir"
  out="$dir/$db-$(date -u +%Y%m%dT%H%M%SZ).dump"
fi

tmp="$out.partial"
db_passfile
trap 'rm -f "$DB_PASSFILE" "$tmp"' EXIT

started=$SECONDS
pg_dump --host="$DB_HOST" --port="$DB_PORT" --username="$DB_USER" --no-password --dbname="$db" \
  --format=custom --compress=6 --file="$tmp"
# A truncated or corrupt archive fails here, not on the day it is needed.
entries="$(pg_restore --list "$tmp" | grep -cv '^;')"
mv "$tmp" "$out"
printf 'db-backup: %s (%s bytes, %s archive entries, %ss) from %s@%s:%s/%s\n' \
  "$out" "$(stat -c %s "$out")" "$entries" "$((SECONDS - started))" "$DB_USER" "$DB_HOST" "$DB_PORT" "$db"
