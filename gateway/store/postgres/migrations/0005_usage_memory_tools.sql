-- What memory and the tool loop did for each request.
ALTER TABLE usage ADD COLUMN memory_status text NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN memory_count integer NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN memory_ids text NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN memory_ms double precision NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN tool_rounds integer NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN tools_called text NOT NULL DEFAULT '';
