#!/bin/bash
# The PostgreSQL hot standby of the Swarm stack (service timescaledb-replica, a Swarm config run
# by the timescaledb image as its command; docs/operations.md "PostgreSQL replica on Swarm").
#
# First start (empty volume), or a volume that is no standby of this primary any more (primary
# re-initialised, replica promoted by hand, or the slot lost because the replica was away past
# max_slot_wal_keep_size): the physical slot PRIMARY_SLOT is made on the primary and
# pg_basebackup copies it, streaming its WAL. Every start: the image's entrypoint runs `postgres`
# as a hot standby of PRIMARY_HOST through that slot. The password goes into a passfile in the
# container's /tmp, never into the volume (primary_conninfo is given on the command line).
# Runs as root (the image's entrypoint then drops to the postgres user), like the image itself.
set -euo pipefail

primary_host="${PRIMARY_HOST:-timescaledb}"
slot="${PRIMARY_SLOT:-swarm_replica}"
user="${POSTGRES_USER:-exchange}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
log() { printf '[postgres-replica] %s\n' "$*" >&2; }

umask 077
passfile=/tmp/pgpass
printf '*:*:*:%s:%s\n' "$user" "$(sed 's/[\\:]/\\&/g' "${POSTGRES_PASSWORD_FILE:?}")" >"$passfile"
chown postgres:postgres "$passfile"
export PGPASSFILE="$passfile" PGCONNECT_TIMEOUT=5

on_primary() {
  psql -h "$primary_host" -p 5432 -U "$user" -d postgres -XqtA -v ON_ERROR_STOP=1 -c "$1"
}

# The primary's system identifier; waits for it unless there is a standby to start already.
primary_id=""
until primary_id="$(on_primary 'SELECT system_identifier FROM pg_control_system()' 2>/dev/null)" &&
  [[ -n "$primary_id" ]]; do
  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    log "the primary $primary_host does not answer: starting the standby on what it has"
    primary_id=""
    break
  fi
  log "waiting for the primary $primary_host"
  sleep 5
done

rebuild=0
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  rebuild=1
elif [[ -n "$primary_id" ]]; then
  mine="$(pg_controldata -D "$PGDATA" | sed -n 's/^Database system identifier: *//p')"
  wal_status="$(on_primary "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$slot'")"
  if [[ ! -f "$PGDATA/standby.signal" ]]; then
    log "$PGDATA is no standby (promoted?): copying the primary again"
    rebuild=1
  elif [[ "$mine" != "$primary_id" ]]; then
    log "$PGDATA is a copy of another cluster ($mine, the primary is $primary_id): copying it again"
    rebuild=1
  elif [[ -z "$wal_status" || "$wal_status" == lost ]]; then
    log "the primary has no WAL kept for this standby (slot $slot ${wal_status:-missing}): copying it again"
    rebuild=1
  fi
fi

if ((rebuild)); then
  log "pg_basebackup from $primary_host through the physical slot $slot"
  find "$PGDATA" -mindepth 1 -delete
  on_primary "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = '$slot' AND NOT active" >/dev/null
  on_primary "SELECT pg_create_physical_replication_slot('$slot', true)
    WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$slot')" >/dev/null
  pg_basebackup -h "$primary_host" -p 5432 -U "$user" -D "$PGDATA" -S "$slot" -X stream -c fast -w
  touch "$PGDATA/standby.signal"
  log "copied ($(du -sh "$PGDATA" | cut -f1))"
fi

exec docker-entrypoint.sh postgres \
  -c hot_standby=on -c hot_standby_feedback=on -c "cluster_name=$slot" \
  -c "primary_conninfo=host=$primary_host port=5432 user=$user passfile=$passfile application_name=$slot" \
  -c "primary_slot_name=$slot" "$@"
