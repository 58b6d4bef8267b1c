-- dtx coordinator store, MySQL / MariaDB dialect. Created by SociStore when absent.
-- One row per transaction: see sql/postgresql/store.sql for the columns. MySQL has
-- no partial index: the due-time index holds every row, by status first.
-- Statements end with a semicolon at the end of a line.
CREATE TABLE IF NOT EXISTS dtx_trans (
  gid VARCHAR(128) NOT NULL PRIMARY KEY,
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
  branches MEDIUMBLOB NOT NULL,
  branch_log MEDIUMTEXT NOT NULL,
  KEY dtx_trans_pending (status, next_cron_time),
  KEY dtx_trans_id (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
