-- Embeddings of memories (memory.Vectors, hybrid recall): one per memory,
-- keyed by the memory's seq (so a scope's vectors are one contiguous
-- range), int8-quantised (recall.Quantize: one byte per value), with the
-- model that made it and its size. Search compares only vectors of the
-- query's model and size.
CREATE TABLE memory_vectors (
    seq   INTEGER PRIMARY KEY REFERENCES memories (seq) ON DELETE CASCADE,
    model TEXT NOT NULL,
    dims  INTEGER NOT NULL,
    vec   BLOB NOT NULL
);
CREATE INDEX memory_vectors_model ON memory_vectors (model, dims);

-- vec_version moves whenever what a vector search of the scope could
-- return changes (a vector stored or removed, a memory superseded or
-- deleted), so the in-process copy of the scope's vectors (vecscan) knows
-- to reload, whichever process made the change. seq >> 32 is the scope's
-- id (migration 0007).
ALTER TABLE memory_scopes ADD COLUMN vec_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER memory_vectors_ins AFTER INSERT ON memory_vectors BEGIN
    UPDATE memory_scopes SET vec_version = vec_version + 1 WHERE id = NEW.seq >> 32; END;
CREATE TRIGGER memory_vectors_upd AFTER UPDATE ON memory_vectors BEGIN
    UPDATE memory_scopes SET vec_version = vec_version + 1 WHERE id = NEW.seq >> 32; END;
CREATE TRIGGER memory_vectors_del AFTER DELETE ON memory_vectors BEGIN
    UPDATE memory_scopes SET vec_version = vec_version + 1 WHERE id = OLD.seq >> 32; END;
CREATE TRIGGER memories_vec_superseded AFTER UPDATE OF superseded_by ON memories BEGIN
    UPDATE memory_scopes SET vec_version = vec_version + 1 WHERE id = NEW.seq >> 32; END;
CREATE TRIGGER memories_vec_deleted AFTER DELETE ON memories BEGIN
    UPDATE memory_scopes SET vec_version = vec_version + 1 WHERE id = OLD.seq >> 32; END;
