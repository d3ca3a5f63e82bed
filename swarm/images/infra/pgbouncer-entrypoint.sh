#!/bin/bash
# PgBouncer entrypoint with edoburu/pgbouncer's environment interface, for the Debian-built image.
# Writes pgbouncer.ini from the environment (no password in it: AUTH_FILE is a userlist secret)
# and execs pgbouncer in the foreground.
set -euo pipefail
ini=/var/run/pgbouncer/pgbouncer.ini
cat >"$ini" <<INI
[databases]
${DB_NAME:-*} = host=${DB_HOST:?DB_HOST is required} port=${DB_PORT:-5432} ${DB_NAME:+dbname=$DB_NAME} ${DB_USER:+user=$DB_USER}

[pgbouncer]
listen_addr = ${LISTEN_ADDR:-0.0.0.0}
listen_port = ${LISTEN_PORT:-5432}
unix_socket_dir = /var/run/pgbouncer
auth_type = ${AUTH_TYPE:-scram-sha-256}
auth_file = ${AUTH_FILE:-/etc/pgbouncer/userlist.txt}
pool_mode = ${POOL_MODE:-transaction}
max_client_conn = ${MAX_CLIENT_CONN:-1000}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
ignore_startup_parameters = ${IGNORE_STARTUP_PARAMETERS:-extra_float_digits,options}
server_reset_query = DISCARD ALL
tcp_keepalive = ${TCP_KEEPALIVE:-1}
tcp_keepidle = ${TCP_KEEPIDLE:-60}
tcp_keepintvl = ${TCP_KEEPINTVL:-10}
tcp_keepcnt = ${TCP_KEEPCNT:-6}
admin_users = ${ADMIN_USERS:-${DB_USER:-postgres}}
stats_users = ${STATS_USERS:-${DB_USER:-postgres}}
log_connections = 0
log_disconnections = 0
INI
exec pgbouncer "$ini"
