-- The NATS credential of a provisioned node: the Controller issues a new one at every provisioning
-- and keeps only its bcrypt hash, which goes into the nats-server authorization file it writes
-- (docs/design/nats-security.md). Deprovisioning and node deletion remove it.
CREATE TABLE fog_nats_credentials (
    fog_uuid TEXT PRIMARY KEY NOT NULL REFERENCES fogs (uuid) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
