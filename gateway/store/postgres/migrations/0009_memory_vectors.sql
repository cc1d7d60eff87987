-- Embeddings of memories (memory.Vectors, hybrid recall), as SQLite's
-- 0009: one per memory, int8-quantised (recall.Quantize) in a bytea,
-- with the model that made it and its size, searched in Go over the
-- scope's vectors (cached in the gateway; see gateway/store/vecscan).
CREATE TABLE memory_vectors (
    id    text COLLATE "C" PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    scope text COLLATE "C" NOT NULL,
    model text NOT NULL,
    dims  integer NOT NULL,
    vec   bytea NOT NULL
);
CREATE INDEX memory_vectors_scope ON memory_vectors (scope, model, dims);
CREATE INDEX memory_vectors_model ON memory_vectors (model, dims);

-- version moves whenever what a vector search of the scope could return
-- changes (a vector stored, a memory superseded or deleted: its vector
-- goes with it), so every gateway replica's cached copy of the scope's
-- vectors reloads. Deletes bump once per statement and scope (DeleteAll of
-- 10k memories bumping one row 10k times took seconds); vectors are never
-- deleted but with their memory.
CREATE TABLE memory_vector_scopes (
    scope   text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL DEFAULT 0
);
CREATE FUNCTION memory_vector_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_vector_scopes AS s (scope, version) VALUES (NEW.scope, 1)
    ON CONFLICT (scope) DO UPDATE SET version = s.version + 1;
    RETURN NULL;
END $$;
CREATE FUNCTION memory_vector_bump_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_vector_scopes AS s (scope, version) SELECT DISTINCT scope, 1 FROM gone
    ON CONFLICT (scope) DO UPDATE SET version = s.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER memory_vectors_bump AFTER INSERT OR UPDATE ON memory_vectors
    FOR EACH ROW EXECUTE FUNCTION memory_vector_bump();
CREATE TRIGGER memories_vec_superseded AFTER UPDATE OF superseded_by ON memories
    FOR EACH ROW EXECUTE FUNCTION memory_vector_bump();
CREATE TRIGGER memories_vec_deleted AFTER DELETE ON memories
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION memory_vector_bump_deleted();
