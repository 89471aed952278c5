#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL server: the feedback store's tests run against it.
#
#   scripts/pg_test_server.sh COMMAND [ARGS...]
#
# initdb into a fresh temporary folder, start the server on a free loopback port (its unix socket
# in the same folder), create the database `genre_test`, export
#   GENRE_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/genre_test
# run COMMAND, then stop the server and remove the folder, also when COMMAND fails or is
# interrupted. The exit status is COMMAND's.
#
# The server binaries come from Debian's `postgresql` package (/usr/lib/postgresql/*/bin); when
# none is there this script installs it with apt-get (as root, or through sudo). initdb and
# postgres refuse to run as root, so as root the server runs as the `postgres` system user (the
# package creates it). Authentication is `trust`, on loopback and the private socket only; fsync is
# off: the data lives as long as the command.
#
# When no server can be had: with CI=true the script fails (status 3) without running COMMAND (in CI
# the PostgreSQL tests must fail, never skip); otherwise (a developer without PostgreSQL or sudo) it
# says so and runs COMMAND without GENRE_TEST_PG_URL, so the PostgreSQL tests skip with that reason.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

no_server() {  # no_server MESSAGE COMMAND...
  echo "pg_test_server: $1" >&2
  shift
  if [[ "${CI:-}" == true ]]; then
    exit 3
  fi
  echo "pg_test_server: running without PostgreSQL; its tests will skip (CI=true makes this an error)" >&2
  unset GENRE_TEST_PG_URL
  set +e
  "$@"
  exit $?
}

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return 0
  return 1
}

if ! bin="$(find_bin)"; then
  echo "pg_test_server: no initdb found; installing Debian's postgresql" >&2
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo -n"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null; } ||
    true
  bin="$(find_bin)" || no_server "could not install Debian's postgresql (no initdb)" "$@"
fi

# As root the server runs as `postgres`; as anyone else, as that user.
as_server=()
if [[ "$(id -u)" == 0 ]]; then
  getent passwd postgres >/dev/null || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  as_server=(runuser -u postgres --)
fi

base="${TMPDIR:-/tmp}"
# The server user must reach its folder: a root-only TMPDIR (e.g. under pytest's) will not do for `postgres`.
if ((${#as_server[@]})) && ! "${as_server[@]}" test -w "$base" -a -x "$base"; then
  base=/tmp
fi
dir="$(mktemp -d "$base/genre-pg.XXXXXX")"
[[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
data="$dir/data"
started=0

cleanup() {
  if ((started)); then
    "${as_server[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


log_tail() { [[ -f "$1" ]] && tail -n 20 "$1" >&2; return 0; }

if ! "${as_server[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1; then
  log_tail "$dir/initdb.log"
  no_server "initdb failed" "$@"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Another process may take the port between choosing and binding it: try a few.
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  if "${as_server[@]}" "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if ! ((started)); then
  log_tail "$dir/server.log"
  no_server "the server did not start (5 attempts)" "$@"
fi
"${as_server[@]}" "$bin/createdb" -h "$dir" -p "$port" -U postgres genre_test || no_server "createdb failed" "$@"

export GENRE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/genre_test"
echo "pg_test_server: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $GENRE_TEST_PG_URL (data in $dir)" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
