#!/usr/bin/env bash
# Run the Procfile's processes against PostgreSQL on one machine (SPEC §6): two `web`
# processes on two ports and one `worker` (the projection runner), sharing one database.
#
#   DATABASE_URL='postgresql://postgres@127.0.0.1:5432/test?schema=circles' \
#     scripts/run-postgres.sh [WEB_PORT_1 [WEB_PORT_2]]        # default ports 8001 8002
#
# The commands are read from ./Procfile, so what runs here is what a platform runs.
# WEB_CONCURRENCY sets gunicorn workers per web process (service/gunicorn_conf.py: 2).
# CIPHER_KEY and PUBLIC_URL, if set, are passed on. Ctrl-C or SIGTERM stops all three processes.
# Each process's pid is written to $CIRCLES_RUN_DIR (default ./var/run) as web1.pid,
# web2.pid, worker.pid, so one can be stopped or killed on its own.
set -euo pipefail
umask 077  # pid files, logs and anything the processes write: private to this user
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?set DATABASE_URL=postgresql://user@host:5432/db[?schema=name]}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "DATABASE_URL must be a postgresql:// URL" >&2; exit 2 ;;
esac
PORT1="${1:-8001}"
PORT2="${2:-8002}"
RUN_DIR="${CIRCLES_RUN_DIR:-var/run}"
mkdir -p "$RUN_DIR"
if [ -x .venv/bin/python ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
export DATABASE_URL
export CIRCLES_PROJECTIONS="${CIRCLES_PROJECTIONS:-worker}"

web_cmd="$(sed -n 's/^web:[[:space:]]*//p' Procfile)"
worker_cmd="$(sed -n 's/^worker:[[:space:]]*//p' Procfile)"
[ -n "$web_cmd" ] && [ -n "$worker_cmd" ] || { echo "Procfile needs web: and worker:" >&2; exit 2; }

# The schema named by ?schema= must exist before the first process opens it.
python - <<'PY'
import psycopg
from projections.store import StoreSettings

s = StoreSettings.from_env()
with psycopg.connect(s.pg_conninfo, autocommit=True, connect_timeout=10) as conn:
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{s.pg_schema.replace(chr(34), "")}"')
print(f"PostgreSQL {s.pg_host}:{s.pg_port}/{s.pg_dbname}, schema {s.pg_schema}")
PY

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$RUN_DIR"/web1.pid "$RUN_DIR"/web2.pid "$RUN_DIR"/worker.pid
}
trap stop INT TERM EXIT

start() {  # name, port, command
  PORT="$2" bash -c "exec $3" &
  pids+=("$!")
  echo "$!" > "$RUN_DIR/$1.pid"
  echo "started $1 (pid $!)${2:+ on port $2}"
}
start web1 "$PORT1" "$web_cmd"
start web2 "$PORT2" "$web_cmd"
start worker "" "$worker_cmd"

echo "Circles: http://127.0.0.1:$PORT1/ and http://127.0.0.1:$PORT2/ ;" \
  "projection lag at /healthz/projections. Staff key:" \
  "DATABASE_URL='$DATABASE_URL' flask --app service create-api-key --role coordinator --name you"
# Stay up while all three run; if one exits, stop the others (a supervisor would restart it).
wait -n "${pids[@]}" || true
echo "a process exited; stopping the others" >&2
