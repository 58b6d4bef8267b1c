-- dtx coordinator store, PostgreSQL dialect. Created by SociStore when absent.
-- One row per transaction: the fields of DTM's trans_global (times are Unix
-- milliseconds, so retry times keep their milliseconds; `result` holds the last error
-- a pass met; retry_count is dtx's), and its branches in two columns instead of
-- DTM's trans_branch_op rows (src/soci/trans_row.h has both formats):
--   branches    what each branch is (URL, payload, branch id, op), written once when
--               the transaction is created (a TCC appends the branches it registers);
--   branch_log  each branch's results, appended to by the write that records them.
-- A saga is then one INSERT and one UPDATE. `id` orders listings (time-ordered, made
-- by the store) and has an index of its own, so that listing the newest (DTM's `all`,
-- the admin page every 5 s, dtxctl) reads a page, not the table: measured within the
-- noise of a saga's database CPU (bench/README.md, issue 15). The due-time index holds
-- unfinished transactions only. Databases of the two-table layout
-- are converted when a store opens them (src/soci/layout_migration.h).
-- Statements end with a semicolon at the end of a line.
CREATE TABLE IF NOT EXISTS dtx_trans (
  gid VARCHAR(128) PRIMARY KEY,
  id BIGINT NOT NULL,
  trans_type VARCHAR(45) NOT NULL,
  status VARCHAR(12) NOT NULL,
  query_prepared VARCHAR(1024) NOT NULL,
  protocol VARCHAR(45) NOT NULL,
  create_time BIGINT NOT NULL,
  update_time BIGINT NOT NULL,
  finish_time BIGINT,
  rollback_time BIGINT,
  options VARCHAR(1024) NOT NULL,
  custom_data VARCHAR(1024) NOT NULL,
  next_cron_interval BIGINT NOT NULL,
  next_cron_time BIGINT NOT NULL,
  owner VARCHAR(128) NOT NULL,
  result VARCHAR(1024) NOT NULL,
  rollback_reason VARCHAR(1024) NOT NULL,
  retry_count BIGINT NOT NULL,
  branches BYTEA NOT NULL,
  branch_log TEXT NOT NULL
);
-- Only the transactions the cron claims are indexed for it: a finished one leaves
-- the index. The predicate names the two ended statuses, not the three unfinished
-- ones: SQLite checks an IN list of three or more through a temporary b-tree on every
-- write of the row (bench/README.md). Queries that want this index spell the
-- predicate the same way.
CREATE INDEX IF NOT EXISTS dtx_trans_pending ON dtx_trans (next_cron_time)
  WHERE status NOT IN ('succeed', 'failed');
CREATE INDEX IF NOT EXISTS dtx_trans_id ON dtx_trans (id);
