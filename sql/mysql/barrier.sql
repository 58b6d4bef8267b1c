-- The sub-transaction barrier table, MySQL / MariaDB dialect (DTM's schema; default
-- name dtm_barrier.barrier, whose database dtx::Barrier::CreateTable creates first).
-- ${TABLE} stands for the configured table name.
CREATE TABLE IF NOT EXISTS ${TABLE} (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  trans_type VARCHAR(45) DEFAULT '',
  gid VARCHAR(128) DEFAULT '',
  branch_id VARCHAR(128) DEFAULT '',
  op VARCHAR(45) DEFAULT '',
  barrier_id VARCHAR(45) DEFAULT '',
  reason VARCHAR(45) DEFAULT '' COMMENT 'the branch type who insert this record',
  create_time DATETIME DEFAULT NOW(),
  update_time DATETIME DEFAULT NOW(),
  KEY (create_time),
  KEY (update_time),
  UNIQUE KEY (gid, branch_id, op, barrier_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
