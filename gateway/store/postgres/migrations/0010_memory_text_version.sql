-- version moves whenever what a full-text search of the scope could
-- return changes (a memory added, superseded or deleted), so that every
-- gateway replica's in-process index of the scope's memories
-- (gateway/memory/lexical) rebuilds. Keys and content never change in
-- place. Deletes bump once per statement and scope, as for vectors
-- (migration 0009). The trigger names sort before the vector triggers',
-- so a statement firing both always locks the text row first.
CREATE TABLE memory_text_scopes (
    scope   text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO memory_text_scopes (scope, version) SELECT DISTINCT scope, 1 FROM memories;
CREATE FUNCTION memory_text_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_text_scopes AS s (scope, version) VALUES (NEW.scope, 1)
    ON CONFLICT (scope) DO UPDATE SET version = s.version + 1;
    RETURN NULL;
END $$;
CREATE FUNCTION memory_text_bump_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_text_scopes AS s (scope, version) SELECT DISTINCT scope, 1 FROM gone
    ON CONFLICT (scope) DO UPDATE SET version = s.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER memories_text_added AFTER INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION memory_text_bump();
CREATE TRIGGER memories_text_superseded AFTER UPDATE OF superseded_by ON memories
    FOR EACH ROW EXECUTE FUNCTION memory_text_bump();
CREATE TRIGGER memories_text_deleted AFTER DELETE ON memories
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION memory_text_bump_deleted();
-- The ids of a scope's active memories, read without the rows (an
-- index-only scan): a replica whose index another replica's write left
-- behind compares them with its own to catch up.
CREATE INDEX memories_active_ids ON memories (scope, id) WHERE superseded_by IS NULL;
