-- Answers served from the response cache.
ALTER TABLE usage ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
