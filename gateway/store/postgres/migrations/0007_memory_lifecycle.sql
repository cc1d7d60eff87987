-- Memory lifecycle (gateway/memory.Lifecycle), as SQLite's 0007: hidden
-- search keys, supersede links and source. keys: indexed, never returned.
-- superseded_by and valid_to: set when the memory is superseded (NULL while
-- active). source_*: where the memory came from.
ALTER TABLE memories ADD COLUMN keys text NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN superseded_by text COLLATE "C";
ALTER TABLE memories ADD COLUMN valid_to timestamptz;
ALTER TABLE memories ADD COLUMN source_client text NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_request text NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_session text NOT NULL DEFAULT '';
ALTER TABLE memories ADD COLUMN source_turn integer NOT NULL DEFAULT 0;

-- The full-text vector now covers the keys too: content weighted A, keys
-- B (ts_rank's weights make a content match count more than a key match),
-- and one lexeme naming the scope: 'xs' and the md5 of the scope. Search
-- ANDs that lexeme into its query, so that the GIN index yields the
-- scope's matches only instead of every scope's (see searchMemories in
-- memory.go). Text that happens to hold the same token matches it too,
-- which costs a row fetch, never isolation: the scope is checked on the
-- row. The index covers active memories only,
-- which is all Search reads.
DROP INDEX memories_tsv;
ALTER TABLE memories DROP COLUMN tsv;
ALTER TABLE memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, content), 'A') ||
    setweight(to_tsvector('english'::regconfig, keys), 'B') ||
    ('xs' || md5(scope))::tsvector) STORED;
CREATE INDEX memories_tsv ON memories USING gin (tsv) WHERE superseded_by IS NULL;

-- Dedup is among active memories only: a superseded text may be said again.
DROP INDEX memories_scope_hash;
CREATE UNIQUE INDEX memories_scope_hash ON memories (scope, hash) WHERE superseded_by IS NULL;
-- History walks supersede links backwards.
CREATE INDEX memories_superseded_by ON memories (scope, superseded_by) WHERE superseded_by IS NOT NULL;
