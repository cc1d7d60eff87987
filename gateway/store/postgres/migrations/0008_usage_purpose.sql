-- Rows of the gateway's own model calls: their purpose (memory_extraction,
-- memory_embedding; empty for client requests) and the request they serve.
ALTER TABLE usage ADD COLUMN purpose text NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN parent_request_id text NOT NULL DEFAULT '';
