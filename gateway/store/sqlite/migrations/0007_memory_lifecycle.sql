-- Memory lifecycle (gateway/memory.Lifecycle): supersede links, source,
-- hidden search keys; and per-scope row numbers so that search reads only
-- the scope's part of the full-text index.
--
-- memory_scopes gives each scope a small id; a memory's seq (the row id the
-- full-text index refers to) is id << 32 | a number counted per scope
-- (last_seq), so one scope's memories are one contiguous rowid range, which
-- FTS5 can seek to instead of ranking every scope's matches. Existing rows
-- are renumbered (their old seq, below 2^32, becomes the low part); the
-- index, created on first use (see 0003), is rebuilt by memory_index.go
-- because it is renamed to memories_search and gains the keys column.
CREATE TABLE memory_scopes (
    id       INTEGER PRIMARY KEY,
    scope    TEXT NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL DEFAULT 0
);
INSERT INTO memory_scopes (scope) SELECT DISTINCT scope FROM memories ORDER BY scope;
UPDATE memories SET seq = ((SELECT s.id FROM memory_scopes AS s WHERE s.scope = memories.scope) << 32) | seq;
UPDATE memory_scopes SET last_seq = (SELECT max(m.seq) & 4294967295 FROM memories AS m WHERE m.scope = memory_scopes.scope);

-- keys: hidden search words (indexed, never returned). superseded_by and
-- valid_to_ns: set when the memory is superseded (status superseded);
-- NULL while it is active. source_*: where the memory came from.
ALTER TABLE memories ADD COLUMN keys TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN superseded_by TEXT;
ALTER TABLE memories ADD COLUMN valid_to_ns INTEGER;
ALTER TABLE memories ADD COLUMN source_client TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_request TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_session TEXT NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_turn INTEGER NOT NULL DEFAULT 0;

-- Dedup is among active memories only: a superseded text may be said again.
DROP INDEX memories_scope_hash;
CREATE UNIQUE INDEX memories_scope_hash ON memories (scope, hash) WHERE superseded_by IS NULL;
-- History walks supersede links backwards.
CREATE INDEX memories_superseded_by ON memories (scope, superseded_by) WHERE superseded_by IS NOT NULL;
