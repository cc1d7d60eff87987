-- Memories (gateway/memory): short texts kept per scope, as SQLite's 0003.
-- tsv is the full-text vector of content (english configuration: stemming
-- and stop words), kept by PostgreSQL itself as a stored generated column
-- and indexed with GIN. (scope, hash) makes a scope store
-- normalised-identical content once; (scope, created_at, id) serves
-- newest-first paging. Text keys compare bytewise (COLLATE "C"), so no
-- server locale can make two scopes equal.
CREATE TABLE memories (
    id         text COLLATE "C" PRIMARY KEY,
    scope      text COLLATE "C" NOT NULL,
    hash       text COLLATE "C" NOT NULL,
    content    text NOT NULL,
    metadata   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    tsv        tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED
);
CREATE UNIQUE INDEX memories_scope_hash ON memories (scope, hash);
CREATE INDEX memories_scope_created ON memories (scope, created_at, id);
CREATE INDEX memories_tsv ON memories USING gin (tsv);
