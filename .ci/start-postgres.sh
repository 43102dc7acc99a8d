#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on a free loopback port and print its URL on stdout.
# Installs Debian's postgresql when missing. Usage:
#   export AZUREMLCORE_TEST_POSTGRES_URL="$(.ci/start-postgres.sh)"
# Stop it with: pg_ctl -D "$DIR" stop  (the directory is printed on stderr).
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DIR="$(mktemp -d /tmp/azuremlcore-pg.XXXXXX)"
RUN_AS=()
if [ "$(id -u)" = "0" ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  id postgres >/dev/null 2>&1 || useradd -r -m postgres
  chown postgres "$DIR"
  RUN_AS=(runuser -u postgres --)
fi
"${RUN_AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c fsync=off" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres azuremlcore_test
echo "cluster in $DIR (stop: ${RUN_AS[*]} $BIN/pg_ctl -D $DIR/data stop)" >&2
echo "postgresql://postgres@127.0.0.1:$PORT/azuremlcore_test"
