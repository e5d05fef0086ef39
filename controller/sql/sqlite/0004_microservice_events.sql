-- The journal an Agent reports per microservice (what happened to it: pulled, started, exited with
-- code, failed and why, ...), as the JSON array it last sent, so `microservice describe` and
-- GET /api/v3/microservices/:uuid/events answer also while the node is offline.
ALTER TABLE microservice_statuses ADD COLUMN events TEXT NOT NULL DEFAULT '[]';
