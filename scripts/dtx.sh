#!/usr/bin/env bash
# One entry point for a fresh Debian 12 (bookworm) machine.
#
#   scripts/dtx.sh demo    install packages, build, run the demo (the mall, examples/mall)
#   scripts/dtx.sh test    install packages, build, run every test (ctest)
#   scripts/dtx.sh bench   install packages, build, run the benchmark program
#   scripts/dtx.sh deps    install the Debian packages only
#   scripts/dtx.sh build   install packages and build into $DTX_BUILD_DIR (default build/)
#
# Needs root or sudo for apt-get. Packages already installed are not fetched again.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${DTX_BUILD_DIR:-$root/build}
jobs=${DTX_JOBS:-2}

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libabsl-dev nlohmann-json3-dev
  libsoci-dev libboost-dev libsqlite3-dev libpq-dev libmariadb-dev
  postgresql-15 mariadb-server
  libcpp-httplib-dev libssl-dev openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcli11-dev prometheus-cpp-dev
  catch2
  clang-15 libfuzzer-15-dev
  python3 python3-requests python3-pymysql
  chromium chromium-driver
)
# Only in bookworm-backports: dtxd's OpenTelemetry export (built against bookworm's gRPC,
# protobuf and abseil).
backports_packages=(opentelemetry-cpp-dev)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Adds Debian's bookworm-backports suite, from the archive the main suite comes from,
# as a Debian user would; packages come from it only when asked for by -t.
add_backports() {
  # grep -s: files that do not exist (no sources.list on a stock image) are skipped.
  local lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list
    /etc/apt/sources.list.d/*.sources)
  grep -qsE '^[^#]*bookworm-backports' "${lists[@]}" && return
  local mirror
  mirror=$( (grep -hsE '^(URIs:|deb )' "${lists[@]}" || true) \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" \
    | as_root tee /etc/apt/sources.list.d/dtx-bookworm-backports.list >/dev/null
}

deps() {
  local missing=() missing_backports=()
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
  for p in "${backports_packages[@]}"; do installed "$p" || missing_backports+=("$p"); done
  if [ ${#missing[@]} -gt 0 ] || [ ${#missing_backports[@]} -gt 0 ]; then
    echo "dtx.sh: installing ${missing[*]} ${missing_backports[*]}"
    [ ${#missing_backports[@]} -gt 0 ] && add_backports
    as_root apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
    fi
    if [ ${#missing_backports[@]} -gt 0 ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -t bookworm-backports "${missing_backports[@]}" >/dev/null
    fi
  fi
}

build() {
  deps
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
  cmake --build "$build_dir" -j "$jobs"
}

# Throwaway PostgreSQL 15 and MariaDB servers for the tests, on 127.0.0.1 only; their
# URLs are exported for ctest. Stopped on exit. Their data lives under /tmp (one
# directory per build directory), which the postgres and mysql users can reach
# wherever the checkout is.
db_dir=${DTX_TEST_DB_DIR:-/tmp/dtx-test-db-$(printf '%s' "$build_dir" | md5sum | cut -c1-8)}
pg_port=${DTX_TEST_PG_PORT:-15433}
my_port=${DTX_TEST_MY_PORT:-13306}

start_databases() {
  stop_databases
  rm -rf "$db_dir" && mkdir -p "$db_dir/pg" "$db_dir/my"
  chmod 755 "$db_dir"
  local pg_bin=/usr/lib/postgresql/15/bin
  chown -R postgres "$db_dir/pg"
  su postgres -s /bin/sh -c "$pg_bin/initdb -D $db_dir/pg/data -U postgres -A trust --no-sync" \
    > "$db_dir/pg-init.log" 2>&1
  su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $db_dir/pg/data -l $db_dir/pg/server.log -w \
    start -o '-p $pg_port -k $db_dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300'" > /dev/null
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -q -c "CREATE USER dtx PASSWORD 'dtx'" \
    -c "CREATE DATABASE dtx OWNER dtx" > /dev/null

  chown -R mysql "$db_dir/my"
  mariadb-install-db --user=mysql --datadir="$db_dir/my/data" \
    --auth-root-authentication-method=normal --skip-test-db > "$db_dir/my-init.log" 2>&1
  start_mariadb
  mariadb --no-defaults --socket="$db_dir/my/my.sock" -uroot -e \
    "CREATE DATABASE dtx; CREATE USER 'dtx'@'%' IDENTIFIED BY 'dtx';
     GRANT ALL ON dtx.* TO 'dtx'@'%'; GRANT ALL ON dtm_barrier.* TO 'dtx'@'%';"
  export DTX_TEST_POSTGRES_URL="postgresql://dtx:dtx@127.0.0.1:$pg_port/dtx"
  export DTX_TEST_MYSQL_URL="mysql://dtx:dtx@127.0.0.1:$my_port/dtx"
  # What the fault tests run to stop a server and start it again.
  export DTX_TEST_POSTGRES_RESTART="bash $root/scripts/dtx.sh restart-database postgresql"
  export DTX_TEST_MYSQL_RESTART="bash $root/scripts/dtx.sh restart-database mysql"
  echo "dtx.sh: test databases up: $DTX_TEST_POSTGRES_URL $DTX_TEST_MYSQL_URL"
}

start_mariadb() {
  mariadbd --no-defaults --user=mysql --datadir="$db_dir/my/data" \
    --socket="$db_dir/my/my.sock" --port="$my_port" --bind-address=127.0.0.1 \
    --pid-file="$db_dir/my/my.pid" --log-error="$db_dir/my/server.log" \
    >> "$db_dir/my/stdout.log" 2>&1 &
  for _ in $(seq 1 100); do
    mariadb-admin --no-defaults --socket="$db_dir/my/my.sock" -uroot ping > /dev/null 2>&1 && return
    sleep 0.1
  done
}

# Stops one test database server and starts it again (for the fault tests).
restart_database() {
  case "$1" in
    postgresql)
      su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $db_dir/pg/data -m fast \
        -w restart -o '-p $pg_port -k $db_dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300'" > /dev/null
      ;;
    mysql)
      mariadb-admin --no-defaults --socket="$db_dir/my/my.sock" -uroot shutdown
      while [ -S "$db_dir/my/my.sock" ]; do sleep 0.1; done
      start_mariadb
      ;;
  esac
}

stop_databases() {
  if [ -f "$db_dir/pg/data/postmaster.pid" ]; then
    su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $db_dir/pg/data -m fast stop" \
      > /dev/null 2>&1 || true
  fi
  if [ -S "$db_dir/my/my.sock" ]; then
    mariadb-admin --no-defaults --socket="$db_dir/my/my.sock" -uroot shutdown > /dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  test)
    build
    trap stop_databases EXIT
    start_databases
    cd "$build_dir"
    DTX_REQUIRE_ALL_BACKENDS=1 ctest -j "$jobs" --output-on-failure --timeout 600
    ;;
  restart-database)
    restart_database "${2:-}"
    ;;
  databases)
    # Starts the test databases and prints their URLs; `dtx.sh databases stop` ends them.
    if [ "${2:-}" = stop ]; then stop_databases; else start_databases; fi
    ;;
  demo)
    build
    "$build_dir/examples/mall/mall" demo
    ;;
  bench)
    build
    "$build_dir/bench/dtx_bench" "${@:2}"
    ;;
  *)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac
