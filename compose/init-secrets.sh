#!/usr/bin/env bash
# Writes the secrets compose/compose.yml mounts, once: random values in compose/secrets/ (a 0700
# directory, git-ignored). Existing files are kept, since the database volume was initialised
# with the first password. Remove the directory and the volumes (`down -v`) to start over.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"
mkdir -p "$dir"
chmod 700 "$dir"

random() { od -An -N"${1:-24}" -tx1 /dev/urandom | tr -d ' \n'; }

# Compose bind-mounts file secrets with their host mode and owner; the containers run as other
# users (node, postgres, redis, grafana), so the files are world-readable inside the 0700 dir.
write() {
  local name=$1 value=$2
  if [[ -e "$dir/$name" ]]; then
    printf 'kept    %s\n' "$dir/$name"
    return 0
  fi
  (umask 022 && printf '%s\n' "$value" >"$dir/$name")
  printf 'created %s\n' "$dir/$name"
}

write pg_password "$(random)"
write redis_password "$(random)"
write grafana_admin_password "$(random)"
# api-gateway: AES-256-GCM key of the API secrets at rest, 32 bytes as 64 hex characters.
write api_key_encryption_key "$(random 32)"
# api-gateway: the operator API's credential (X-Operator-Token).
write operator_token "$(random 32)"
# PgBouncer's auth_file: the same role and password as PostgreSQL's.
write pgbouncer_userlist "\"exchange\" \"$(tr -d '\n' <"$dir/pg_password")\""
