-- Memories (gateway/memory): short texts kept per scope. The full-text
-- index over content (memories_fts, FTS5) is not created here: FTS5 needs
-- go-sqlite3's sqlite_fts5 build tag, and a build without it must still
-- open the database for everything else. memory.go creates the index the
-- first time a memory is used (and backfills it from this table).
--
-- seq is the row id the index refers to; id is the public, random memory
-- id. (scope, hash) makes a scope store normalised-identical content once.
CREATE TABLE memories (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    scope      TEXT NOT NULL,
    hash       TEXT NOT NULL,
    content    TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_ns INTEGER NOT NULL
);
CREATE UNIQUE INDEX memories_scope_hash ON memories (scope, hash);
CREATE INDEX memories_scope_created ON memories (scope, created_ns, id);
