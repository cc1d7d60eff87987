CREATE TABLE usage (
    request_id        TEXT PRIMARY KEY,
    time_ns           INTEGER NOT NULL,
    user_id           TEXT NOT NULL DEFAULT '',
    project           TEXT NOT NULL DEFAULT '',
    client            TEXT NOT NULL DEFAULT '',
    hostname          TEXT NOT NULL DEFAULT '',
    edge_id           TEXT NOT NULL DEFAULT '',
    ingress           TEXT NOT NULL DEFAULT '',
    method            TEXT NOT NULL DEFAULT '',
    path              TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    upstream_model    TEXT NOT NULL DEFAULT '',
    provider          TEXT NOT NULL DEFAULT '',
    stream            INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL,
    error_type        TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    latency_ms        REAL NOT NULL DEFAULT 0,
    ttfb_ms           REAL NOT NULL DEFAULT 0
);
CREATE INDEX usage_time ON usage (time_ns);
CREATE INDEX usage_project_time ON usage (project, time_ns);
CREATE INDEX usage_user_time ON usage (user_id, time_ns);
