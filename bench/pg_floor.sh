#!/usr/bin/env bash
# pg_floor: what PostgreSQL alone spends on the rows of a saga, so that a ratio of
# sagas/s to raw INSERT commits/s (dtx_bench's P1a) can be set against what the
# database allows at best. Runs pgbench (postgresql-15's) with dtx's own store
# statements on dtx's store schema (sql/postgresql/store.sql), in a schema of its own
# (dtx_floor, dropped and made again), and prints sagas/s and the machine's CPU per
# saga (all processes: PostgreSQL, pgbench) for:
#   raw       one single-row INSERT per transaction (what dtx_bench calls raw);
#   alone     a saga's two statements (the create: one row, its 4 branches in a
#             240-byte column; the final compare-and-set appending 2 branch results
#             to its log), each committing on its own;
#   group     8 sagas' creates in one pipeline (one round trip, one implicit
#             transaction, one commit), then their 8 final updates in another: a group
#             commit of 8 writes, as dtx's PostgreSQL writers send them;
#   2t-alone, 2t-group  the same on the two-table layout dtx used until issue 15
#             (tests/layout1/postgresql_schema.sql: a global row and 4 branch rows).
# Usage: bench/pg_floor.sh [URL] (default $DTX_TEST_POSTGRES_URL); environment:
# CLIENTS (default 32), PG_FLOOR_SECONDS per run (default 5), PGBENCH (its path).
set -euo pipefail

url=${1:-${DTX_TEST_POSTGRES_URL:?give a PostgreSQL URL or set DTX_TEST_POSTGRES_URL}}
clients=${CLIENTS:-32}
seconds=${PG_FLOOR_SECONDS:-5}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export PGOPTIONS="-c search_path=dtx_floor"
psql -q -v ON_ERROR_STOP=1 "$url" -c "DROP SCHEMA IF EXISTS dtx_floor CASCADE" \
  -c "CREATE SCHEMA dtx_floor" >/dev/null 2>&1
psql -q -v ON_ERROR_STOP=1 "$url" -f "$root/sql/postgresql/store.sql" >/dev/null 2>&1
psql -q -v ON_ERROR_STOP=1 "$url" -f "$root/tests/layout1/postgresql_schema.sql" \
  >/dev/null 2>&1
psql -q -v ON_ERROR_STOP=1 "$url" \
  -c "CREATE TABLE raw_commit (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)" >/dev/null

# The statements as dtx's store sends them (src/soci/store_statements.cc), with
# pgbench variables for the gid. pgbench takes ":name" as a variable, so the values
# hold no colon.
create() {  # $1: the gid variable
  echo "INSERT INTO dtx_trans (gid, id, trans_type, status, query_prepared, protocol," \
    "create_time, update_time, options, custom_data, next_cron_interval, next_cron_time," \
    "owner, result, rollback_reason, retry_count, branches, branch_log) VALUES" \
    "('g' || $1, $1, 'saga', 'submitted', '', 'http', 1796000000000, 1796000000000," \
    "'{\"wait_result\"true}', '', 0, 1796000060000, 'dtxd-1', '', '', 0," \
    "decode(repeat('ab', 240), 'hex'), '') ON CONFLICT (gid) DO NOTHING;"
}
finish() {  # $1: the gid variable
  echo "UPDATE dtx_trans SET update_time = 1796000000003, status = 'succeed'," \
    "finish_time = 1796000000003, owner = '', branch_log = branch_log ||" \
    "'1796000000003|01 a s,02 a s;' WHERE gid = 'g' || $1 AND status = 'submitted'" \
    "AND owner = 'dtxd-1';"
}
create2() {  # $1: the gid variable
  local row="CAST(1 AS BIGINT)"
  echo "WITH g AS (INSERT INTO trans_global (gid, trans_type, status, query_prepared," \
    "protocol, create_time, update_time, options, custom_data, next_cron_interval," \
    "next_cron_time, owner, result, rollback_reason, retry_count) VALUES ('g' || $1," \
    "'saga', 'submitted', '', 'http', 1, 1, '{}', '', 10000, 2, '', '', '', 0)" \
    "ON CONFLICT (gid) DO NOTHING RETURNING gid) INSERT INTO trans_branch_op (gid, url," \
    "bin_data, branch_id, op, status, create_time, update_time) SELECT g.gid, v.u," \
    "decode(v.b, 'hex'), v.i, v.o, v.s, v.c, v.c FROM g, (VALUES" \
    "('http://127.0.0.1/api/TransOut', '7b7d', '01', 'action', 'prepared', $row)," \
    "('http://127.0.0.1/api/TransOutRevert', '7b7d', '01', 'compensate', 'prepared', $row)," \
    "('http://127.0.0.1/api/TransIn', '7b7d', '02', 'action', 'prepared', $row)," \
    "('http://127.0.0.1/api/TransInRevert', '7b7d', '02', 'compensate', 'prepared', $row))" \
    "AS v(u, b, i, o, s, c);"
}
finish2() {  # $1: the gid variable
  echo "WITH g AS (UPDATE trans_global SET update_time = 3, status = 'succeeded'," \
    "finish_time = 3 WHERE gid = 'g' || $1 AND status = 'submitted' AND owner = ''" \
    "RETURNING gid) UPDATE trans_branch_op t SET status = 'succeed', update_time = 3," \
    "finish_time = 3 FROM g, (VALUES ('01', 'action'), ('02', 'action')) AS v(i, o)" \
    "WHERE t.gid = g.gid AND t.branch_id = v.i AND t.op = v.o AND t.status = 'prepared';"
}
echo "INSERT INTO raw_commit (v) VALUES (1);" >"$work/raw.sql"
for layout in "" 2; do
  prefix=${layout:+2t-}
  {
    echo "\\set g random(1, 1000000000000000)"
    "create$layout" :g
    "finish$layout" :g
  } >"$work/${prefix}alone.sql"
  {
    for k in 0 1 2 3 4 5 6 7; do echo "\\set g$k random(1, 1000000000000000)"; done
    echo "\\startpipeline"
    for k in 0 1 2 3 4 5 6 7; do "create$layout" ":g$k"; done
    echo "\\endpipeline"
    echo "\\startpipeline"
    for k in 0 1 2 3 4 5 6 7; do "finish$layout" ":g$k"; done
    echo "\\endpipeline"
  } >"$work/${prefix}group.sql"
done

cpu_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
echo "pg_floor: $(nproc) cores, $clients clients, ${seconds} s each, pgbench -M prepared"
for kind in raw alone group 2t-alone 2t-group; do
  sagas_per_run=1
  [ "${kind#2t-}" = group ] && sagas_per_run=8
  before=$(cpu_ticks)
  tps=$("$pgbench" -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "$work/$kind.sql" \
    "$url" 2>/dev/null | awk '/^tps/{print $3}')
  after=$(cpu_ticks)
  awk -v k="$kind" -v tps="$tps" -v n="$sagas_per_run" -v ticks=$((after - before)) \
    -v s="$seconds" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      rate = tps * n; what = (k == "raw") ? "commits/s" : "sagas/s  "
      printf "%-8s %9.0f %s %6.0f us of machine CPU each\n", k, rate, what,
             ticks / hz / s / rate * 1e6 }'
done
psql -q "$url" -c "DROP SCHEMA dtx_floor CASCADE" >/dev/null 2>&1
