# shellcheck shell=bash
# PostgreSQL 15 (own cluster, port PG_PORT) and PgBouncer (transaction pooling, PGBOUNCER_PORT).
# Both run as the `postgres` OS user: PostgreSQL and PgBouncer refuse to run as root.

PG_OS_USER=postgres
PG_PASSWORD_FILE="$SECRETS_DIR/pg_password"
PG_HOME="$RUN_DIR/pg" # owned by the postgres user: data/, socket/, pgbouncer/
# (a link to /var/lib/trading-native/... when the postgres user cannot reach native/.run)
[[ -L "$PG_HOME" ]] && PG_HOME="$(readlink -f "$PG_HOME")"
PG_DATA="$PG_HOME/data"
PG_LOG="$LOG_DIR/postgres.log"
# The hot standby (pg_basebackup -R of PG_DATA, streaming through the physical slot
# PG_REPLICA_SLOT) on PG_REPLICA_PORT; PgBouncer serves it as the database PG_REPLICA_DATABASE.
PG_REPLICA_DATA="$PG_HOME/replica"
PG_REPLICA_LOG="$LOG_DIR/postgres-replica.log"
PG_REPLICA_SLOT=native_replica
PG_REPLICA_DATABASE="${PG_DATABASE}_replica"
PGBOUNCER_LOG="$LOG_DIR/pgbouncer.log"
export PG_PASSWORD_FILE

# Runs a command as the postgres OS user (setpriv execs: no extra process in between).
as_pg() {
  (cd "$PG_HOME" && setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@")
}

pg_socket_dir() {
  local d="$PG_HOME/socket"
  # A unix socket path is limited to 107 bytes.
  if ((${#d} + 20 > 107)); then
    d="/tmp/trading-native-pg-$(printf '%s' "$RUN_DIR" | md5sum | cut -c1-8)"
  fi
  printf '%s\n' "$d"
}

ensure_pg_user() {
  id "$PG_OS_USER" >/dev/null 2>&1 && return 0
  log "creating system user $PG_OS_USER"
  useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
}

# The postgres user must be able to reach $PG_HOME. If the checkout lives where it cannot
# (e.g. under /root, mode 700), keep the cluster under /var/lib and link it from .run/pg.
ensure_pg_home() {
  ensure_pg_user
  if [[ ! -e "$PG_HOME" ]]; then
    mkdir -p "$PG_HOME"
  fi
  chown "$PG_OS_USER:$PG_OS_USER" "$PG_HOME"
  chmod 700 "$PG_HOME"
  if ! setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- test -x "$PG_HOME/."; then
    local alt
    alt="/var/lib/trading-native/$(printf '%s' "$RUN_DIR" | md5sum | cut -c1-12)/pg"
    warn "user $PG_OS_USER cannot reach $PG_HOME; keeping PostgreSQL files in $alt (linked from $PG_HOME)"
    mkdir -p "$alt"
    chown "$PG_OS_USER:$PG_OS_USER" "$alt"
    chmod 700 "$alt"
    rmdir "$PG_HOME" 2>/dev/null || true
    [[ -e "$PG_HOME" ]] || ln -s "$alt" "$PG_HOME"
    PG_HOME="$alt"
    PG_DATA="$PG_HOME/data"
    PG_REPLICA_DATA="$PG_HOME/replica"
  fi
  local sock
  sock="$(pg_socket_dir)"
  mkdir -p "$sock" "$PG_HOME/pgbouncer"
  chown "$PG_OS_USER:$PG_OS_USER" "$sock" "$PG_HOME/pgbouncer"
  chmod 700 "$PG_HOME/pgbouncer"
  chmod 755 "$sock"
}

ensure_pg_password() {
  if [[ ! -s "$PG_PASSWORD_FILE" ]]; then
    log "generating the database password into $PG_PASSWORD_FILE"
    (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$PG_PASSWORD_FILE")
  fi
  chmod 600 "$PG_PASSWORD_FILE"
}

pg_password() { tr -d '\n' <"$PG_PASSWORD_FILE"; }

pg_init_cluster() {
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    return 0
  fi
  log "initdb $PG_DATA"
  rm -rf "$PG_DATA"
  as_pg "$PG_BIN_DIR/initdb" -D "$PG_DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1 || die "initdb failed; see $PG_LOG"
  printf "\ninclude 'native.conf'\n" >>"$PG_DATA/postgresql.conf"
}

# native.conf of a cluster listening on port $1 (the primary's; the replica's adds lines).
pg_native_conf() {
  local sock preload
  sock="$(pg_socket_dir)"
  # pg_stat_statements: where the database's time goes (docs/performance.md reads it).
  preload="shared_preload_libraries = 'pg_stat_statements'"
  if [[ -f "$("$PG_BIN_DIR/pg_config" --pkglibdir 2>/dev/null)/timescaledb.so" ]]; then
    preload="shared_preload_libraries = 'timescaledb,pg_stat_statements'"
  fi
  cat <<EOF
# Written by native/lib/postgres.sh on every \`infra.sh up\`; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$sock'
max_connections = 100
shared_buffers = 256MB
effective_cache_size = 1GB
work_mem = 8MB
maintenance_work_mem = 64MB
synchronous_commit = on
fsync = on
full_page_writes = on
wal_level = replica
max_wal_size = 1GB
# The replica's slot keeps at most this much WAL for it: a replica away for longer is rebuilt
# (native/infra.sh up) rather than filling the primary's disk.
max_slot_wal_keep_size = 2GB
password_encryption = scram-sha-256
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
$preload
EOF
}

# Moves DIR/F.new over DIR/F for each F that differs (owner postgres, mode 600); returns 0 when
# something changed.
pg_install_files() {
  local dir="$1" f changed=1
  shift
  for f in "$@"; do
    if cmp -s "$dir/$f.new" "$dir/$f"; then
      rm -f "$dir/$f.new"
    else
      mv "$dir/$f.new" "$dir/$f"
      changed=0
    fi
    chown "$PG_OS_USER:$PG_OS_USER" "$dir/$f"
    chmod 600 "$dir/$f"
  done
  return "$changed"
}

pg_write_config() {
  pg_native_conf "$PG_PORT" >"$PG_DATA/native.conf.new"
  # The replica's walreceiver connects over the socket as postgres (peer).
  cat >"$PG_DATA/pg_hba.conf.new" <<'EOF'
# Written by native/lib/postgres.sh. TYPE DATABASE USER ADDRESS METHOD
local   all all                 peer
local   replication postgres    peer
host    all all 127.0.0.1/32    scram-sha-256
host    all all ::1/128         scram-sha-256
EOF
  pg_install_files "$PG_DATA" native.conf pg_hba.conf # 0 when something changed
}

pg_ready() {
  "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

# A postmaster without our pid file (pid file lost) is adopted; one that is exiting (e.g. just
# killed, not yet reaped) is waited for, so that the new one does not trip on postmaster.pid.
# pg_adopt_or_wait [NAME DATA_DIR]: the primary by default.
pg_adopt_or_wait() {
  local name="${1:-postgres}" data="${2:-$PG_DATA}"
  local f="$data/postmaster.pid" old i state
  [[ -f "$f" ]] || return 0
  old="$(head -n 1 "$f" | tr -dc '0-9')"
  [[ -n "$old" ]] || return 0
  for ((i = 0; i < 100; i++)); do
    [[ -e "/proc/$old" ]] || return 0
    state="$(awk '{print $3}' "/proc/$old/stat" 2>/dev/null || echo X)"
    if [[ "$state" != Z && "$state" != X ]] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q postgres; then
      log "adopting the running $name (pid $old)"
      printf '%s\n' "$old" >"$(pid_file "$name")"
      return 0
    fi
    sleep 0.1
  done
}

pg_start() {
  ensure_pg_home
  ensure_pg_password
  pg_init_cluster
  local changed=1
  pg_write_config && changed=0
  is_running postgres || pg_adopt_or_wait
  if is_running postgres; then
    if ((changed == 0)); then
      log "postgres config changed: reloading (settings that need a restart apply on the next one)"
      kill -HUP "$(running_pid postgres)" || true
    fi
  else
    # A stale postmaster.pid from a crash blocks the start only if its pid is alive.
    check_port_free postgres "$PG_PORT"
    log "starting postgres on 127.0.0.1:$PG_PORT"
    touch "$PG_LOG"
    (cd "$PG_HOME" && start_bg postgres "$PG_LOG" setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" \
      --init-groups -- "$PG_BIN_DIR/postgres" -D "$PG_DATA")
  fi
  wait_for postgres 60 "$PG_LOG" pg_ready
  pg_setup_database
}

# Role, database and (only if the server has it) TimescaleDB. Idempotent; keeps the role's
# password in sync with the secret file.
pg_setup_database() {
  local sock
  sock="$(pg_socket_dir)"
  as_pg "$PG_BIN_DIR/psql" -X -q -h "$sock" -p "$PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -f - >>"$PG_LOG" 2>&1 <<EOF || die "database setup failed; see $PG_LOG"
\\set pw '$(pg_password)'
\\set u '$PG_USER'
\\set db '$PG_DATABASE'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'u') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'u') \\gexec
ALTER ROLE :"u" WITH LOGIN CREATEDB PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'u') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec
EOF
  local has_tsdb
  has_tsdb="$(as_pg "$PG_BIN_DIR/psql" -X -qtA -h "$sock" -p "$PG_PORT" -U postgres -d "$PG_DATABASE" \
    -c "select count(*) from pg_available_extensions where name = 'timescaledb'" 2>>"$PG_LOG" || echo 0)"
  if [[ "$has_tsdb" == 1 ]]; then
    as_pg "$PG_BIN_DIR/psql" -X -q -h "$sock" -p "$PG_PORT" -U postgres -d "$PG_DATABASE" \
      -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >>"$PG_LOG" 2>&1 ||
      warn "timescaledb is available but CREATE EXTENSION failed; see $PG_LOG"
  fi
  # Readable by the application role too (pg_read_all_stats), for docs/performance.md figures.
  as_pg "$PG_BIN_DIR/psql" -X -q -h "$sock" -p "$PG_PORT" -U postgres -d "$PG_DATABASE" \
    -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' -c "GRANT pg_read_all_stats TO \"$PG_USER\"" \
    >>"$PG_LOG" 2>&1 || warn "pg_stat_statements is not available; see $PG_LOG"
}

pgbouncer_write_config() {
  local dir="$PG_HOME/pgbouncer"
  (umask 077 && printf '"%s" "%s"\n' "$PG_USER" "$(pg_password)" >"$dir/userlist.txt.new")
  cat >"$dir/pgbouncer.ini.new" <<EOF
;; Written by native/lib/postgres.sh on every \`infra.sh up\`; edits are overwritten.
[databases]
$PG_DATABASE = host=127.0.0.1 port=$PG_PORT dbname=$PG_DATABASE
$PG_REPLICA_DATABASE = host=127.0.0.1 port=$PG_REPLICA_PORT dbname=$PG_DATABASE
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = $PG_USER
stats_users = $PG_USER
pool_mode = transaction
default_pool_size = 20
reserve_pool_size = 5
max_db_connections = 80
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
server_check_delay = 10
;; After a failed login (the server down or restarting) PgBouncer refuses clients for this long
;; before it tries again; the default 15 s was most of every PostgreSQL outage (docs/reliability.md).
server_login_retry = 2
log_connections = 0
log_disconnections = 0
EOF
  pg_install_files "$dir" userlist.txt pgbouncer.ini
}

pgbouncer_ready() {
  PGPASSWORD="$(pg_password)" PGCONNECT_TIMEOUT=2 psql -X -qtA -h 127.0.0.1 -p "$PGBOUNCER_PORT" \
    -U "$PG_USER" -d "$PG_DATABASE" -c 'select 1' | grep -qx 1
}

pgbouncer_start() {
  local changed=1
  pgbouncer_write_config && changed=0
  if is_running pgbouncer; then
    if ((changed == 0)); then
      log "pgbouncer config changed: reloading"
      kill -HUP "$(running_pid pgbouncer)" || true
    fi
  else
    check_port_free pgbouncer "$PGBOUNCER_PORT"
    log "starting pgbouncer on 127.0.0.1:$PGBOUNCER_PORT"
    (cd "$PG_HOME" && start_bg pgbouncer "$PGBOUNCER_LOG" setpriv --reuid="$PG_OS_USER" \
      --regid="$PG_OS_USER" --init-groups -- /usr/sbin/pgbouncer "$PG_HOME/pgbouncer/pgbouncer.ini")
  fi
  wait_for pgbouncer 30 "$PGBOUNCER_LOG" pgbouncer_ready
}

pgbouncer_stop() { stop_component pgbouncer TERM 20; }
# SIGINT = PostgreSQL's "fast" shutdown (SIGTERM would wait for every client to leave).
pg_stop() { stop_component postgres INT 60; }

# --- The hot-standby replica (PG_REPLICA_PORT) ---------------------------------------------

# psql as the postgres OS user over the socket: pg_sql PORT DATABASE SQL (tuples only).
pg_sql() {
  as_pg "$PG_BIN_DIR/psql" -X -qtA -h "$(pg_socket_dir)" -p "$1" -U postgres -d "$2" -c "$3"
}

# The cluster's "Database system identifier" (pg_controldata): a replica has its primary's.
pg_system_id() {
  as_pg "$PG_BIN_DIR/pg_controldata" -D "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p'
}

# True when PG_REPLICA_DATA holds a standby (standby.signal) of this primary (same system id).
pg_replica_of_primary() {
  [[ -f "$PG_REPLICA_DATA/PG_VERSION" && -f "$PG_REPLICA_DATA/standby.signal" ]] || return 1
  local primary replica
  primary="$(pg_system_id "$PG_DATA")"
  replica="$(pg_system_id "$PG_REPLICA_DATA")"
  [[ -n "$primary" && "$primary" == "$replica" ]]
}

pg_replica_conf() {
  pg_native_conf "$PG_REPLICA_PORT"
  cat <<EOF
# The hot standby: read-only queries; feedback keeps the primary's vacuum from cancelling them.
cluster_name = '$PG_REPLICA_SLOT'
hot_standby = on
hot_standby_feedback = on
EOF
}

# The physical slot that keeps the primary's WAL until the replica has it (made if missing).
pg_replica_ensure_slot() {
  pg_sql "$PG_PORT" postgres "SELECT pg_create_physical_replication_slot('$PG_REPLICA_SLOT', true)
    WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$PG_REPLICA_SLOT')" \
    >>"$PG_REPLICA_LOG" 2>&1 || die "cannot create the replication slot $PG_REPLICA_SLOT; see $PG_REPLICA_LOG"
}

# A fresh copy of the primary (pg_basebackup -R: standby.signal and primary_conninfo written),
# streaming through a new slot PG_REPLICA_SLOT (an idle one left by an older replica is dropped).
pg_replica_build() {
  local sock i
  sock="$(pg_socket_dir)"
  log "building the replica in $PG_REPLICA_DATA (pg_basebackup -R from 127.0.0.1:$PG_PORT, slot $PG_REPLICA_SLOT)"
  rm -rf "$PG_REPLICA_DATA"
  pg_sql "$PG_PORT" postgres "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = '$PG_REPLICA_SLOT' AND NOT active" >>"$PG_REPLICA_LOG" 2>&1 || true
  # The primary may still be reloading pg_hba.conf (replication line): a few tries.
  for ((i = 1; ; i++)); do
    if as_pg "$PG_BIN_DIR/pg_basebackup" -h "$sock" -p "$PG_PORT" -U postgres -D "$PG_REPLICA_DATA" \
      -R -C -S "$PG_REPLICA_SLOT" -X stream -c fast -w >>"$PG_REPLICA_LOG" 2>&1; then
      break
    fi
    ((i < 5)) || die "pg_basebackup failed; see $PG_REPLICA_LOG"
    rm -rf "$PG_REPLICA_DATA"
    sleep 1
  done
  chmod 700 "$PG_REPLICA_DATA"
}

# True when the primary gave up the replica's slot (max_slot_wal_keep_size passed while it was
# away): that replica cannot catch up any more.
pg_replica_slot_lost() {
  [[ "$(pg_sql "$PG_PORT" postgres "SELECT wal_status FROM pg_replication_slots
    WHERE slot_name = '$PG_REPLICA_SLOT'" 2>/dev/null)" == lost ]]
}

# Ready: accepts connections, in recovery, and the primary sees it streaming.
pg_replica_ready() {
  "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$PG_REPLICA_PORT" -t 2 &&
    [[ "$(pg_sql "$PG_REPLICA_PORT" postgres 'SELECT pg_is_in_recovery()')" == t ]] &&
    [[ "$(pg_sql "$PG_PORT" postgres "SELECT count(*) FROM pg_stat_replication
      WHERE application_name = '$PG_REPLICA_SLOT' AND state = 'streaming'")" == 1 ]]
}

# Starts the replica after the primary: reuses PG_REPLICA_DATA when it is a standby of this
# primary, else (none, primary re-initialised, promoted) builds it again. Idempotent.
pg_replica_start() {
  if [[ -e "$PG_REPLICA_DATA" ]] && ! pg_replica_of_primary; then
    warn "$PG_REPLICA_DATA is not a standby of the primary on $PG_PORT (re-initialised or promoted): rebuilding it"
    pg_replica_stop
    rm -rf "$PG_REPLICA_DATA"
  elif [[ -e "$PG_REPLICA_DATA" ]] && pg_replica_slot_lost; then
    warn "the primary dropped the WAL the replica still needs (slot $PG_REPLICA_SLOT lost): rebuilding it"
    pg_replica_stop
    rm -rf "$PG_REPLICA_DATA"
  fi
  touch "$PG_REPLICA_LOG"
  [[ -f "$PG_REPLICA_DATA/PG_VERSION" ]] || pg_replica_build
  pg_replica_ensure_slot
  local changed=1
  pg_replica_conf >"$PG_REPLICA_DATA/native.conf.new"
  pg_install_files "$PG_REPLICA_DATA" native.conf && changed=0
  is_running postgres-replica || pg_adopt_or_wait postgres-replica "$PG_REPLICA_DATA"
  if is_running postgres-replica; then
    if ((changed == 0)); then
      log "postgres-replica config changed: reloading"
      kill -HUP "$(running_pid postgres-replica)" || true
    fi
  else
    check_port_free postgres-replica "$PG_REPLICA_PORT"
    log "starting postgres-replica (hot standby) on 127.0.0.1:$PG_REPLICA_PORT"
    (cd "$PG_HOME" && start_bg postgres-replica "$PG_REPLICA_LOG" setpriv --reuid="$PG_OS_USER" \
      --regid="$PG_OS_USER" --init-groups -- "$PG_BIN_DIR/postgres" -D "$PG_REPLICA_DATA")
  fi
  wait_for postgres-replica 120 "$PG_REPLICA_LOG" pg_replica_ready
}

pg_replica_stop() { stop_component postgres-replica INT 60; }

# Throws the replica away and builds it again from the primary (docs/operations.md).
pg_replica_rebuild() {
  pg_replica_stop
  rm -rf "$PG_REPLICA_DATA"
  pg_replica_start
}
