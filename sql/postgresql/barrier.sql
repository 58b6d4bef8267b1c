-- The sub-transaction barrier table, PostgreSQL dialect (DTM's columns; default name
-- dtm_barrier.barrier, whose schema dtx::Barrier::CreateTable creates first).
-- ${TABLE} stands for the configured table name, ${NAME} for it with '.' as '_'.
CREATE TABLE IF NOT EXISTS ${TABLE} (
  id BIGSERIAL PRIMARY KEY,
  trans_type VARCHAR(45) DEFAULT '',
  gid VARCHAR(128) DEFAULT '',
  branch_id VARCHAR(128) DEFAULT '',
  op VARCHAR(45) DEFAULT '',
  barrier_id VARCHAR(45) DEFAULT '',
  reason VARCHAR(45) DEFAULT '',
  create_time TIMESTAMP WITH TIME ZONE DEFAULT now(),
  update_time TIMESTAMP WITH TIME ZONE DEFAULT now(),
  CONSTRAINT ${NAME}_uniq UNIQUE (gid, branch_id, op, barrier_id)
);
