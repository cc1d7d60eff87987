-- Per-user API keys (gateway/auth.KeyStore), as SQLite's 0004. The key
-- itself is never stored: key_hash is its SHA-256 (32 bytes), looked up by
-- equality through its unique index. id is the key's public name. An empty
-- project allows every project; an empty models array allows every model.
-- rpm, tpm, max_budget (USD, NULL: none) and budget_period are kept for
-- the limits work. Text keys compare bytewise (COLLATE "C").
CREATE TABLE api_keys (
    id            text COLLATE "C" PRIMARY KEY,
    key_hash      bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    user_id       text COLLATE "C" NOT NULL CHECK (user_id <> ''),
    project       text NOT NULL DEFAULT '',
    models        text[] NOT NULL DEFAULT '{}',
    rpm           bigint NOT NULL DEFAULT 0 CHECK (rpm >= 0),
    tpm           bigint NOT NULL DEFAULT 0 CHECK (tpm >= 0),
    max_budget    double precision CHECK (max_budget >= 0),
    budget_period text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_keys_user_created ON api_keys (user_id, created_at, id);
