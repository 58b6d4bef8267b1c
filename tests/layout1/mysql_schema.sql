-- dtx coordinator store, MySQL / MariaDB dialect. Created by SociStore when absent.
-- Column names follow DTM's trans_global / trans_branch_op. Times are Unix
-- milliseconds (BIGINT) on every backend, so retry times keep their milliseconds.
-- dtx adds trans_global.retry_count; `result` holds the last error a pass met.
-- Statements end with a semicolon at the end of a line.
CREATE TABLE IF NOT EXISTS trans_global (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
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
  UNIQUE KEY gid (gid),
  -- No key on owner: no query looks rows up by it (tables made before 2026-11-29
  -- keep theirs; ALTER TABLE trans_global DROP KEY owner removes it).
  KEY status_next_cron_time (status, next_cron_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE IF NOT EXISTS trans_branch_op (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  gid VARCHAR(128) NOT NULL,
  url VARCHAR(1024) NOT NULL,
  data TEXT,
  bin_data BLOB,
  branch_id VARCHAR(128) NOT NULL,
  op VARCHAR(45) NOT NULL,
  status VARCHAR(45) NOT NULL,
  finish_time BIGINT,
  rollback_time BIGINT,
  create_time BIGINT,
  update_time BIGINT,
  UNIQUE KEY gid_uniq (gid, branch_id, op)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
