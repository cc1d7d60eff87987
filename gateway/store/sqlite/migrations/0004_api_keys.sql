-- Per-user API keys (gateway/auth.KeyStore). The key itself is never
-- stored: key_hash is its SHA-256 (32 bytes), looked up by equality through
-- its unique index. id is the key's public name. An empty project allows
-- every project; models is a JSON array of the model names the key may use
-- ('[]' allows every model). rpm, tpm, max_budget (USD, NULL: none) and
-- budget_period are kept for the limits work. Times are Unix nanoseconds,
-- NULL for never.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    key_hash      BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    user_id       TEXT NOT NULL CHECK (user_id <> ''),
    project       TEXT NOT NULL DEFAULT '',
    models        TEXT NOT NULL DEFAULT '[]',
    rpm           INTEGER NOT NULL DEFAULT 0 CHECK (rpm >= 0),
    tpm           INTEGER NOT NULL DEFAULT 0 CHECK (tpm >= 0),
    max_budget    REAL CHECK (max_budget >= 0),
    budget_period TEXT NOT NULL DEFAULT '',
    created_ns    INTEGER NOT NULL,
    revoked_ns    INTEGER,
    last_used_ns  INTEGER
);
CREATE INDEX api_keys_user_created ON api_keys (user_id, created_ns, id);
