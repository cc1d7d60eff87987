-- text_version moves whenever what a full-text search of the scope could
-- return changes (a memory added, superseded or deleted), so that the
-- in-process index of the scope's memories (gateway/memory/lexical) knows
-- to rebuild, whichever process made the change. seq >> 32 is the scope's
-- id (migration 0007). Keys and content never change in place.
ALTER TABLE memory_scopes ADD COLUMN text_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER memories_text_added AFTER INSERT ON memories BEGIN
    UPDATE memory_scopes SET text_version = text_version + 1 WHERE id = NEW.seq >> 32; END;
CREATE TRIGGER memories_text_superseded AFTER UPDATE OF superseded_by ON memories BEGIN
    UPDATE memory_scopes SET text_version = text_version + 1 WHERE id = NEW.seq >> 32; END;
CREATE TRIGGER memories_text_deleted AFTER DELETE ON memories BEGIN
    UPDATE memory_scopes SET text_version = text_version + 1 WHERE id = OLD.seq >> 32; END;
-- The ids of a scope's active memories, read without the rows: a replica
-- whose index another process's write left behind compares them with its
-- own to catch up (gateway/store/sqlite/memory_lexical.go).
CREATE INDEX memories_active_ids ON memories (scope, id) WHERE superseded_by IS NULL;
