-- How often the node's Agent restarted a microservice's container after it exited (reported by our
-- Agent as "restarts" in its microserviceStatus entries; 0 from agents that do not report it),
-- shown in the RESTARTS column of `microservice list --output table` and in the status object.
ALTER TABLE microservice_statuses ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
