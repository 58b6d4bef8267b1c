-- dtx coordinator store, PostgreSQL dialect. Created by SociStore when absent.
-- Column names follow DTM's trans_global / trans_branch_op. Times are Unix
-- milliseconds (BIGINT) on every backend, so retry times keep their milliseconds.
-- dtx adds trans_global.retry_count; `result` holds the last error a pass met.
-- Statements end with a semicolon at the end of a line.
CREATE TABLE IF NOT EXISTS trans_global (
  id BIGSERIAL PRIMARY KEY,
  gid VARCHAR(128) NOT NULL,
  trans_type VARCHAR(45) NOT NULL,
  status VARCHAR(12) NOT NULL,
  query_prepared VARCHAR(1024) NOT NULL DEFAULT '',
  protocol VARCHAR(45) NOT NULL,
  create_time BIGINT,
  update_time BIGINT,
  finish_time BIGINT,
  rollback_time BIGINT,
  options VARCHAR(1024) NOT NULL DEFAULT '',
  custom_data VARCHAR(1024) NOT NULL DEFAULT '',
  next_cron_interval BIGINT,
  next_cron_time BIGINT,
  owner VARCHAR(128) NOT NULL DEFAULT '',
  ext_data TEXT,
  result VARCHAR(1024) NOT NULL DEFAULT '',
  rollback_reason VARCHAR(1024) NOT NULL DEFAULT '',
  retry_count BIGINT NOT NULL DEFAULT 0,
  CONSTRAINT trans_global_gid UNIQUE (gid)
);
-- Only the transactions the cron claims are indexed for it: a finished one leaves
-- the index. No index on owner: no query looks rows up by it, and each index costs
-- every write (schemas before 2026-11-29 had both; they are dropped).
DROP INDEX IF EXISTS trans_global_owner;
DROP INDEX IF EXISTS trans_global_status_next_cron_time;
-- A prepared TCC or msg is due at its timeout_to_fail. Schemas before 2026-11-30
-- indexed submitted and aborting only, as trans_global_due; it is replaced (as is
-- trans_global_unfinished, its first replacement, with a slow predicate). The
-- predicate names the two ended statuses, not the three unfinished ones: SQLite checks
-- an IN list of three or more through a temporary b-tree on every write of the row,
-- which cost a 32-client saga bench three quarters of its rate (bench/README.md).
-- Queries that want this index spell the predicate the same way.
DROP INDEX IF EXISTS trans_global_due;
DROP INDEX IF EXISTS trans_global_unfinished;
CREATE INDEX IF NOT EXISTS trans_global_pending ON trans_global (next_cron_time)
  WHERE status NOT IN ('succeed', 'failed');
CREATE TABLE IF NOT EXISTS trans_branch_op (
  id BIGSERIAL PRIMARY KEY,
  gid VARCHAR(128) NOT NULL,
  url VARCHAR(1024) NOT NULL,
  data TEXT,
  bin_data BYTEA,
  branch_id VARCHAR(128) NOT NULL,
  op VARCHAR(45) NOT NULL,
  status VARCHAR(45) NOT NULL,
  finish_time BIGINT,
  rollback_time BIGINT,
  create_time BIGINT,
  update_time BIGINT,
  CONSTRAINT trans_branch_op_gid_branch_op UNIQUE (gid, branch_id, op)
);
