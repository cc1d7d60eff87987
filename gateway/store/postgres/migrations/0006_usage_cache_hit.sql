-- Answers served from the response cache.
ALTER TABLE usage ADD COLUMN cache_hit boolean NOT NULL DEFAULT false;
