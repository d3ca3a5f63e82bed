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

pg_write_config() {
  local sock preload
  sock="$(pg_socket_dir)"
  # pg_stat_statements: where the database's time goes (docs/performance.md reads it).
  preload="shared_preload_libraries = 'pg_stat_statements'"
  if [[ -f "$("$PG_BIN_DIR/pg_config" --pkglibdir 2>/dev/null)/timescaledb.so" ]]; then
    preload="shared_preload_libraries = 'timescaledb,pg_stat_statements'"
  fi
  cat >"$PG_DATA/native.conf.new" <<EOF
# Written by native/lib/postgres.sh on every \`infra.sh up\`; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
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
password_encryption = scram-sha-256
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
$preload
EOF
  cat >"$PG_DATA/pg_hba.conf.new" <<'EOF'
# Written by native/lib/postgres.sh. TYPE DATABASE USER ADDRESS METHOD
local   all all                 peer
host    all all 127.0.0.1/32    scram-sha-256
host    all all ::1/128         scram-sha-256
EOF
  local f changed=1
  for f in native.conf pg_hba.conf; do
    if cmp -s "$PG_DATA/$f.new" "$PG_DATA/$f"; then
      rm -f "$PG_DATA/$f.new"
    else
      mv "$PG_DATA/$f.new" "$PG_DATA/$f"
      changed=0
    fi
    chown "$PG_OS_USER:$PG_OS_USER" "$PG_DATA/$f"
    chmod 600 "$PG_DATA/$f"
  done
  return "$changed" # 0 when something changed
}

pg_ready() {
  "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

# A postmaster without our pid file (pid file lost) is adopted; one that is exiting (e.g. just
# killed, not yet reaped) is waited for, so that the new one does not trip on postmaster.pid.
pg_adopt_or_wait() {
  local f="$PG_DATA/postmaster.pid" old i state
  [[ -f "$f" ]] || return 0
  old="$(head -n 1 "$f" | tr -dc '0-9')"
  [[ -n "$old" ]] || return 0
  for ((i = 0; i < 100; i++)); do
    [[ -e "/proc/$old" ]] || return 0
    state="$(awk '{print $3}' "/proc/$old/stat" 2>/dev/null || echo X)"
    if [[ "$state" != Z && "$state" != X ]] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q postgres; then
      log "adopting the running postgres (pid $old)"
      printf '%s\n' "$old" >"$(pid_file postgres)"
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
  local dir="$PG_HOME/pgbouncer" changed=1
  (umask 077 && printf '"%s" "%s"\n' "$PG_USER" "$(pg_password)" >"$dir/userlist.txt.new")
  cat >"$dir/pgbouncer.ini.new" <<EOF
;; Written by native/lib/postgres.sh on every \`infra.sh up\`; edits are overwritten.
[databases]
$PG_DATABASE = host=127.0.0.1 port=$PG_PORT dbname=$PG_DATABASE
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
log_connections = 0
log_disconnections = 0
EOF
  local f
  for f in userlist.txt pgbouncer.ini; do
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
