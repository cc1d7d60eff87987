-- The usage log: one row per request, the same columns as SQLite's
-- 0001_usage.sql. time is timestamptz (microsecond precision, stored as
-- UTC); request_id sorts bytewise (COLLATE "C") so the newest-first
-- tie-break is the same on every server locale and matches SQLite's.
CREATE TABLE usage (
    request_id        text COLLATE "C" PRIMARY KEY,
    time              timestamptz NOT NULL,
    user_id           text NOT NULL DEFAULT '',
    project           text NOT NULL DEFAULT '',
    client            text NOT NULL DEFAULT '',
    hostname          text NOT NULL DEFAULT '',
    edge_id           text NOT NULL DEFAULT '',
    ingress           text NOT NULL DEFAULT '',
    method            text NOT NULL DEFAULT '',
    path              text NOT NULL DEFAULT '',
    model             text NOT NULL DEFAULT '',
    upstream_model    text NOT NULL DEFAULT '',
    provider          text NOT NULL DEFAULT '',
    stream            boolean NOT NULL DEFAULT false,
    status            integer NOT NULL,
    error_type        text NOT NULL DEFAULT '',
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    cached_tokens     bigint NOT NULL DEFAULT 0,
    latency_ms        double precision NOT NULL DEFAULT 0,
    ttfb_ms           double precision NOT NULL DEFAULT 0
);
CREATE INDEX usage_time ON usage (time);
CREATE INDEX usage_project_time ON usage (project, time);
CREATE INDEX usage_user_time ON usage (user_id, time);
