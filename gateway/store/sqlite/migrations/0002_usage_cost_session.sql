-- Cost accounting and coding sessions. cost is NULL when unknown (an
-- unpriced model, or a row written before this migration), which is not
-- the same as 0; unpriced marks the former.
ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN cost REAL;
ALTER TABLE usage ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_session_time ON usage (session_id, time_ns);
