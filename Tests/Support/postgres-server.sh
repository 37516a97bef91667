#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests (`make test` runs one for the whole run).
#
#   postgres-server.sh start DIR PORT [LISTEN_ADDRESSES]
#       initdb into DIR/data and start the server on PORT, listening on LISTEN_ADDRESSES
#       (postgresql.conf syntax, comma-separated; default 127.0.0.1). Prints the base URL,
#       `postgres://vqueue@HOST:PORT/`, alone on stdout: append a database name to it.
#       The superuser is `vqueue`; every local and host connection is trusted (no password),
#       so never point LISTEN_ADDRESSES at a network others can reach. Durability settings
#       are PostgreSQL's defaults (fsync on): tests that kill things rely on them.
#       The server log is DIR/log, the unix socket is in DIR/run.
#   postgres-server.sh stop DIR
#       stops that server (fast, then immediate) and removes DIR.
#   postgres-server.sh run COMMAND [ARGS...]
#       starts a server in a new folder under /tmp (which the postgres user can reach) on a
#       free loopback port, runs COMMAND with VQUEUE_TEST_POSTGRES set to its base URL, stops
#       the server however COMMAND ends, and exits with COMMAND's status (`make test`, `make bench`).
#
# Needs the Debian `postgresql` package (the server binaries in /usr/lib/postgresql/N/bin; the
# highest N is used, or PG_BINDIR if set). As root, the server runs as the `postgres` user and
# DIR is given to that user; otherwise it runs as the caller.
set -euo pipefail

me=$(basename "$0")
marker=.vqueue-postgres-server

die() { echo "$me: $*" >&2; exit 1; }

usage() {
    echo "usage: $me start DIR PORT [LISTEN_ADDRESSES]" >&2
    echo "       $me stop DIR" >&2
    echo "       $me run COMMAND [ARGS...]" >&2
    exit 64
}

bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR holds no initdb"
        echo "$PG_BINDIR"
        return
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] && [ -x "$found/initdb" ] && [ -x "$found/pg_ctl" ] ||
        die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: apt-get install postgresql (make deps installs it)"
    echo "$found"
}

# Runs a server program as the user that owns the cluster: postgres when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    local dir=$1 port=$2 listen=${3:-127.0.0.1}
    case $port in
        '' | *[!0-9]*) die "PORT must be a number, not '$port'" ;;
    esac
    [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT must be 1-65535, not $port"
    local bin
    bin=$(bindir)

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    [ ! -e "$dir/data" ] ||
        die "$dir already holds a server (data/ exists); stop it first: $me stop $dir"
    : > "$dir/$marker"
    mkdir -p "$dir/run"
    if [ "$(id -u)" -eq 0 ]; then
        id -u postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (the postgresql package creates it)"
        chown -R postgres: "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "the postgres user cannot reach $dir (a parent folder is closed to it): use a folder under /tmp"
    fi
    # The server programs complain about a current directory they cannot enter.
    cd "$dir"

    if ! as_owner "$bin/initdb" --pgdata="$dir/data" --username=vqueue --auth=trust \
            --encoding=UTF8 --no-locale --no-instructions >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed (above)"
    fi
    cat >>"$dir/data/pg_hba.conf" <<'EOF'

# vqueue test server: a throw-away cluster; any host may connect as anyone.
host    all             all             0.0.0.0/0               trust
host    all             all             ::/0                    trust
EOF
    cat >>"$dir/data/postgresql.conf" <<EOF

# vqueue test server (Tests/Support/postgres-server.sh). Durability settings stay the defaults.
listen_addresses = '$listen'
port = $port
unix_socket_directories = '$dir/run'
max_connections = 300
EOF

    if ! as_owner "$bin/pg_ctl" start --pgdata="$dir/data" --log="$dir/log" --wait --timeout=60 \
            >"$dir/pg_ctl.log" 2>&1; then
        cat "$dir/pg_ctl.log" >&2
        [ -f "$dir/log" ] && tail -n 20 "$dir/log" >&2
        die "the server did not start on port $port (log above and in $dir/log); clean up with: $me stop $dir"
    fi

    # The address a client uses: the first one listened on, loopback for wildcards and names.
    local host=${listen%%,*}
    host=${host// /}
    case $host in
        '*' | 0.0.0.0 | localhost | '') host=127.0.0.1 ;;
        '::') host='[::1]' ;;
        *:*) host="[$host]" ;;
    esac
    echo "postgres://vqueue@$host:$port/"
}

stop() {
    [ $# -eq 1 ] || usage
    local dir=$1
    [ -d "$dir" ] || { echo "$me: $dir does not exist; nothing to stop" >&2; return 0; }
    dir=$(cd "$dir" && pwd -P)
    # Never remove a folder this script did not make a server in.
    [ -e "$dir/$marker" ] || [ -z "$(ls -A "$dir")" ] ||
        die "$dir is not a server folder made by '$me start'; not touching it"
    if [ -f "$dir/data/postmaster.pid" ]; then
        local bin
        bin=$(bindir)
        cd "$dir"
        # pg_ctl status exits 3 when no server runs (a stale pid file after a crash).
        if as_owner "$bin/pg_ctl" status --pgdata="$dir/data" >/dev/null 2>&1; then
            as_owner "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait --timeout=30 >/dev/null 2>&1 ||
                as_owner "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=immediate --wait --timeout=30 >/dev/null 2>&1 ||
                die "the server in $dir would not stop; left as it is (see $dir/log)"
        fi
        cd /
    fi
    rm -rf "$dir"
}

run() {
    [ $# -ge 1 ] || usage
    local port url status=0
    run_dir=$(mktemp -d /tmp/vqueue-postgres.XXXXXX)
    trap 'stop "$run_dir" >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url=$(start "$run_dir" "$port")
    echo "$me: throw-away PostgreSQL server at $url (log: $run_dir/log)" >&2
    VQUEUE_TEST_POSTGRES=$url "$@" || status=$?
    return "$status"
}

[ $# -ge 1 ] || usage

command=$1
shift
case $command in
    start) start "$@" ;;
    stop) stop "$@" ;;
    run) run "$@" ;;
    *) usage ;;
esac
