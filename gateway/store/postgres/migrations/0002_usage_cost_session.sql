-- Cost accounting and coding sessions, as SQLite's 0002. cost is NULL when
-- unknown (an unpriced model, or a row written before this migration),
-- which is not the same as 0; unpriced marks the former. Columns with a
-- constant default are added without rewriting the table.
ALTER TABLE usage
    ADD COLUMN cache_write_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_tokens   bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost               double precision,
    ADD COLUMN unpriced           boolean NOT NULL DEFAULT false,
    ADD COLUMN session_id         text NOT NULL DEFAULT '';
CREATE INDEX usage_session_time ON usage (session_id, time);
