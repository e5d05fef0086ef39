-- The Controller's schema on SQLite: the classic ioFog data model (controller.md §1.2, §5) with our
-- own snake_case names; the REST layer maps them to the classic JSON keys.
--
-- Conventions: tables are STRICT (SQLite checks column types); times are INTEGER milliseconds
-- since the epoch; booleans are INTEGER 0/1 with a CHECK; every foreign key column has an index;
-- ON DELETE CASCADE wherever the classic Controller deletes the children with the parent.
-- Secrets that only need to be recognised (user passwords, access tokens, provisioning keys) are
-- stored hashed; secrets that must be handed on (registry and tunnel passwords) are stored as
-- given and never returned by the user API.

-- People who use the REST API and the CLI. password_hash holds an encoded argon2id hash
-- ($argon2id$v=19$...); temp_password_hash the hash of a temporary password sent by e-mail.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    temp_password_hash TEXT,
    email_activated INTEGER NOT NULL DEFAULT 0 CHECK (email_activated IN (0, 1)),
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX users_email ON users (email);

-- Pending e-mail activation codes (hashed) of users who signed up.
CREATE TABLE email_activation_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    expiration_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE INDEX email_activation_codes_user ON email_activation_codes (user_id);

-- User access tokens (the Authorization header of the REST API), stored as hashes only.
CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expiration_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expiration ON access_tokens (expiration_time);

-- Container registries. password is kept as given because agents need it to pull; the user API
-- never returns it. user_id NULL = a system registry (the seeded ones).
CREATE TABLE registries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    secure INTEGER NOT NULL DEFAULT 1 CHECK (secure IN (0, 1)),
    certificate TEXT NOT NULL DEFAULT '',
    requires_cert INTEGER NOT NULL DEFAULT 0 CHECK (requires_cert IN (0, 1)),
    user_name TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    user_email TEXT NOT NULL DEFAULT '',
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX registries_user ON registries (user_id);

-- Catalog of microservice types (images per fog type live in catalog_item_images). user_id NULL =
-- seeded by the system. A registry still used by catalog items cannot be deleted (the classic
-- Controller would silently delete the items).
CREATE TABLE catalog_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT 'New Catalog Item',
    description TEXT,
    category TEXT,
    config_example TEXT DEFAULT '{}',
    publisher TEXT,
    disk_required INTEGER NOT NULL DEFAULT 0,
    ram_required INTEGER NOT NULL DEFAULT 0,
    picture TEXT NOT NULL DEFAULT 'images/shared/default.png',
    is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    registry_id INTEGER NOT NULL DEFAULT 1 REFERENCES registries (id) ON DELETE RESTRICT,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX catalog_items_registry ON catalog_items (registry_id);
CREATE INDEX catalog_items_user ON catalog_items (user_id);
CREATE INDEX catalog_items_name ON catalog_items (name);

-- The message type a catalog item consumes (at most one per item).
CREATE TABLE catalog_item_input_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    catalog_item_id INTEGER NOT NULL UNIQUE REFERENCES catalog_items (id) ON DELETE CASCADE,
    info_type TEXT,
    info_format TEXT
) STRICT;

-- The message type a catalog item produces (at most one per item).
CREATE TABLE catalog_item_output_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    catalog_item_id INTEGER NOT NULL UNIQUE REFERENCES catalog_items (id) ON DELETE CASCADE,
    info_type TEXT,
    info_format TEXT
) STRICT;

-- Kinds of node: 0 unspecified (chosen at provisioning), 1 x86, 2 ARM. The catalog items named
-- here are the system microservices a node of that type runs for networking, HAL and Bluetooth.
CREATE TABLE fog_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image TEXT,
    description TEXT,
    network_catalog_item_id INTEGER REFERENCES catalog_items (id) ON DELETE SET NULL,
    hal_catalog_item_id INTEGER REFERENCES catalog_items (id) ON DELETE SET NULL,
    bluetooth_catalog_item_id INTEGER REFERENCES catalog_items (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX fog_types_network_item ON fog_types (network_catalog_item_id);
CREATE INDEX fog_types_hal_item ON fog_types (hal_catalog_item_id);
CREATE INDEX fog_types_bluetooth_item ON fog_types (bluetooth_catalog_item_id);

-- Edge nodes ("fogs", "agents"): identity, the agent configuration the Controller hands out
-- (with the classic defaults), the status the agent last reported, and the router settings
-- (router_mode here; ports and host in the node's routers row; router_id = the router the node's
-- agent connects to: its own, or for mode 'none' another node's). At most one system node.
CREATE TABLE fogs (
    uuid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT 'Unnamed ioFog 1',
    location TEXT NOT NULL DEFAULT '',
    gps_mode TEXT,
    latitude REAL,
    longitude REAL,
    description TEXT NOT NULL DEFAULT '',
    host TEXT,
    is_system INTEGER NOT NULL DEFAULT 0 CHECK (is_system IN (0, 1)),
    fog_type_id INTEGER NOT NULL DEFAULT 0 REFERENCES fog_types (id) ON DELETE RESTRICT,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    time_zone TEXT,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),

    -- router settings
    router_mode TEXT NOT NULL DEFAULT 'edge' CHECK (router_mode IN ('none', 'edge', 'interior')),
    router_id INTEGER REFERENCES routers (id) ON DELETE SET NULL,

    -- agent configuration
    network_interface TEXT NOT NULL DEFAULT 'eth0',
    docker_url TEXT NOT NULL DEFAULT 'unix:///var/run/docker.sock',
    disk_limit REAL NOT NULL DEFAULT 50,
    disk_directory TEXT NOT NULL DEFAULT '/var/lib/iofog/',
    memory_limit REAL NOT NULL DEFAULT 4096,
    cpu_limit REAL NOT NULL DEFAULT 80,
    log_limit REAL NOT NULL DEFAULT 10,
    log_directory TEXT NOT NULL DEFAULT '/var/log/iofog/',
    log_file_count INTEGER NOT NULL DEFAULT 10,
    status_frequency INTEGER NOT NULL DEFAULT 10,
    change_frequency INTEGER NOT NULL DEFAULT 20,
    device_scan_frequency INTEGER NOT NULL DEFAULT 20,
    bluetooth_enabled INTEGER NOT NULL DEFAULT 0 CHECK (bluetooth_enabled IN (0, 1)),
    abstracted_hardware_enabled INTEGER NOT NULL DEFAULT 0
        CHECK (abstracted_hardware_enabled IN (0, 1)),
    watchdog_enabled INTEGER NOT NULL DEFAULT 1 CHECK (watchdog_enabled IN (0, 1)),
    docker_pruning_frequency INTEGER NOT NULL DEFAULT 1,
    available_disk_threshold REAL NOT NULL DEFAULT 20,
    log_level TEXT NOT NULL DEFAULT 'INFO',

    -- reported status
    last_active INTEGER,
    daemon_status TEXT NOT NULL DEFAULT 'UNKNOWN',
    daemon_operating_duration INTEGER NOT NULL DEFAULT 0,
    daemon_last_start INTEGER,
    memory_usage REAL NOT NULL DEFAULT 0,
    disk_usage REAL NOT NULL DEFAULT 0,
    cpu_usage REAL NOT NULL DEFAULT 0,
    memory_violation TEXT,
    disk_violation TEXT,
    cpu_violation TEXT,
    system_available_disk INTEGER,
    system_available_memory INTEGER,
    system_total_cpu REAL,
    security_status TEXT NOT NULL DEFAULT 'OK',
    security_violation_info TEXT NOT NULL DEFAULT 'No violation',
    catalog_item_status TEXT,
    repository_count INTEGER,
    repository_status TEXT,
    system_time INTEGER,
    last_status_time INTEGER,
    ip_address TEXT NOT NULL DEFAULT '0.0.0.0',
    ip_address_external TEXT NOT NULL DEFAULT '0.0.0.0',
    processed_messages INTEGER NOT NULL DEFAULT 0,
    catalog_item_message_counts TEXT,
    message_speed REAL NOT NULL DEFAULT 0,
    last_command_time INTEGER,
    version TEXT,
    is_ready_to_upgrade INTEGER NOT NULL DEFAULT 1 CHECK (is_ready_to_upgrade IN (0, 1)),
    is_ready_to_rollback INTEGER NOT NULL DEFAULT 0 CHECK (is_ready_to_rollback IN (0, 1)),
    tunnel TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE UNIQUE INDEX fogs_user_name ON fogs (user_id, name);
CREATE UNIQUE INDEX fogs_single_system ON fogs (is_system) WHERE is_system = 1;
CREATE INDEX fogs_name ON fogs (name);
CREATE INDEX fogs_fog_type ON fogs (fog_type_id);
CREATE INDEX fogs_router ON fogs (router_id);
CREATE INDEX fogs_daemon_status ON fogs (daemon_status);

-- Free-form labels, shared by node tags and edge resource orchestration tags.
CREATE TABLE tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    icon TEXT,
    color TEXT
) STRICT;

-- Which tags a node carries.
CREATE TABLE fog_tags (
    fog_uuid TEXT NOT NULL REFERENCES fogs (uuid) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (fog_uuid, tag_id)
) STRICT;
CREATE INDEX fog_tags_tag ON fog_tags (tag_id);

-- The one provisioning key of a node (hashed), valid until expiration_time and single-use:
-- provisioning deletes the row in the transaction that issues the agent's token.
CREATE TABLE fog_provision_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    expiration_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE INDEX fog_provision_keys_expiration ON fog_provision_keys (expiration_time);

-- The one access token of a provisioned agent (hashed); deprovisioning deletes it.
CREATE TABLE fog_access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expiration_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE INDEX fog_access_tokens_user ON fog_access_tokens (user_id);

-- A pending agent upgrade or rollback of a node (at most one).
CREATE TABLE fog_version_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    version_command TEXT NOT NULL CHECK (version_command IN ('upgrade', 'rollback')),
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;

-- Change tracking, bounded: one row per node. version grows by one at every raise; each flag_*
-- column holds the version at which that classic change flag was last raised (0 = not raised).
-- An acknowledgement "up to version V" zeroes the flags whose value is <= V and keeps later
-- ones. raised_at is the time of the last raise.
CREATE TABLE fog_changes (
    fog_uuid TEXT PRIMARY KEY NOT NULL REFERENCES fogs (uuid) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    raised_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    flag_config INTEGER NOT NULL DEFAULT 0,
    flag_version INTEGER NOT NULL DEFAULT 0,
    flag_reboot INTEGER NOT NULL DEFAULT 0,
    flag_delete_node INTEGER NOT NULL DEFAULT 0,
    flag_microservice_list INTEGER NOT NULL DEFAULT 0,
    flag_microservice_config INTEGER NOT NULL DEFAULT 0,
    flag_routing INTEGER NOT NULL DEFAULT 0,
    flag_registries INTEGER NOT NULL DEFAULT 0,
    flag_tunnel INTEGER NOT NULL DEFAULT 0,
    flag_diagnostics INTEGER NOT NULL DEFAULT 0,
    flag_image_snapshot INTEGER NOT NULL DEFAULT 0,
    flag_prune INTEGER NOT NULL DEFAULT 0,
    flag_linked_edge_resources INTEGER NOT NULL DEFAULT 0,
    flag_router_changed INTEGER NOT NULL DEFAULT 0,
    CHECK (flag_config BETWEEN 0 AND version AND flag_version BETWEEN 0 AND version
           AND flag_reboot BETWEEN 0 AND version AND flag_delete_node BETWEEN 0 AND version
           AND flag_microservice_list BETWEEN 0 AND version
           AND flag_microservice_config BETWEEN 0 AND version
           AND flag_routing BETWEEN 0 AND version AND flag_registries BETWEEN 0 AND version
           AND flag_tunnel BETWEEN 0 AND version AND flag_diagnostics BETWEEN 0 AND version
           AND flag_image_snapshot BETWEEN 0 AND version AND flag_prune BETWEEN 0 AND version
           AND flag_linked_edge_resources BETWEEN 0 AND version
           AND flag_router_changed BETWEEN 0 AND version)
) STRICT;

-- Hardware description reported by a node's HAL microservice (a JSON string).
CREATE TABLE hw_infos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    info TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;

-- USB devices reported by a node's HAL microservice (a JSON string).
CREATE TABLE usb_infos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    info TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;

-- SSH reverse tunnel settings of a node (password and key are handed to the agent as given).
CREATE TABLE tunnels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT NOT NULL UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    username TEXT,
    password TEXT,
    host TEXT,
    remote_port INTEGER CHECK (remote_port BETWEEN 1 AND 65535),
    local_port INTEGER NOT NULL DEFAULT 22 CHECK (local_port BETWEEN 1 AND 65535),
    rsa_key TEXT,
    closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1))
) STRICT;

-- Applications (the classic "flows"): named groups of microservices, unique per user. Only the
-- microservices of activated applications are sent to agents.
CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_activated INTEGER NOT NULL DEFAULT 0 CHECK (is_activated IN (0, 1)),
    is_system INTEGER NOT NULL DEFAULT 0 CHECK (is_system IN (0, 1)),
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX applications_user_name ON applications (user_id, name);
CREATE INDEX applications_name ON applications (name);

-- Application templates: an application description (JSON) with {{ variable }} placeholders.
CREATE TABLE application_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    schema_version TEXT NOT NULL DEFAULT '',
    application_json TEXT NOT NULL DEFAULT '{}',
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX application_templates_user_name ON application_templates (user_id, name);

-- The variables of an application template, with their defaults.
CREATE TABLE application_template_variables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_template_id INTEGER NOT NULL
        REFERENCES application_templates (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    default_value TEXT,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    UNIQUE (application_template_id, key)
) STRICT;

-- Microservices: one container each, placed on a node (fog_uuid), belonging to an application.
-- Names are unique within an application. marked_for_delete is the classic "delete" column
-- (removal requested, the row goes once the agent reports the container gone). Its images are in
-- catalog_item_images when it has no catalog item.
CREATE TABLE microservices (
    uuid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT 'New Microservice',
    config TEXT NOT NULL DEFAULT '{}',
    config_last_updated INTEGER,
    is_network INTEGER NOT NULL DEFAULT 0 CHECK (is_network IN (0, 1)),
    rebuild INTEGER NOT NULL DEFAULT 0 CHECK (rebuild IN (0, 1)),
    root_host_access INTEGER NOT NULL DEFAULT 0 CHECK (root_host_access IN (0, 1)),
    log_size INTEGER NOT NULL DEFAULT 1 CHECK (log_size >= 0),
    image_snapshot TEXT NOT NULL DEFAULT '',
    marked_for_delete INTEGER NOT NULL DEFAULT 0 CHECK (marked_for_delete IN (0, 1)),
    delete_with_cleanup INTEGER NOT NULL DEFAULT 0 CHECK (delete_with_cleanup IN (0, 1)),
    -- what the user asked for with /start and /stop (the agent runs or stops the container)
    desired_state TEXT NOT NULL DEFAULT 'RUNNING' CHECK (desired_state IN ('RUNNING', 'STOPPED')),
    catalog_item_id INTEGER REFERENCES catalog_items (id) ON DELETE CASCADE,
    registry_id INTEGER NOT NULL DEFAULT 1 REFERENCES registries (id) ON DELETE RESTRICT,
    fog_uuid TEXT REFERENCES fogs (uuid) ON DELETE CASCADE,
    application_id INTEGER REFERENCES applications (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    UNIQUE (application_id, name)
) STRICT;
CREATE INDEX microservices_fog ON microservices (fog_uuid);
CREATE INDEX microservices_catalog_item ON microservices (catalog_item_id);
CREATE INDEX microservices_registry ON microservices (registry_id);
CREATE INDEX microservices_user ON microservices (user_id);

-- Container images per fog type (1 x86, 2 ARM), owned either by a catalog item or by a
-- microservice that has no catalog item; one image per owner and fog type.
CREATE TABLE catalog_item_images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    catalog_item_id INTEGER REFERENCES catalog_items (id) ON DELETE CASCADE,
    microservice_uuid TEXT REFERENCES microservices (uuid) ON DELETE CASCADE,
    fog_type_id INTEGER NOT NULL REFERENCES fog_types (id) ON DELETE RESTRICT,
    container_image TEXT NOT NULL,
    CHECK ((catalog_item_id IS NULL) <> (microservice_uuid IS NULL))
) STRICT;
CREATE UNIQUE INDEX catalog_item_images_item ON catalog_item_images (catalog_item_id, fog_type_id);
CREATE UNIQUE INDEX catalog_item_images_microservice
    ON catalog_item_images (microservice_uuid, fog_type_id);
CREATE INDEX catalog_item_images_fog_type ON catalog_item_images (fog_type_id);

-- Port mappings of a microservice (container port -> host port).
CREATE TABLE microservice_ports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    port_internal INTEGER NOT NULL CHECK (port_internal BETWEEN 1 AND 65535),
    port_external INTEGER NOT NULL CHECK (port_external BETWEEN 1 AND 65535),
    protocol TEXT NOT NULL DEFAULT 'tcp' CHECK (protocol IN ('tcp', 'udp')),
    is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    is_proxy INTEGER NOT NULL DEFAULT 0 CHECK (is_proxy IN (0, 1)),
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    UNIQUE (microservice_uuid, port_internal, protocol)
) STRICT;
CREATE INDEX microservice_ports_user ON microservice_ports (user_id);

-- The public side of a port mapping: a port on a public host (host_fog_uuid, or the default
-- router when NULL), the schemes of its links and the classic proxy bookkeeping.
CREATE TABLE microservice_public_ports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    port_id INTEGER NOT NULL UNIQUE REFERENCES microservice_ports (id) ON DELETE CASCADE,
    host_fog_uuid TEXT REFERENCES fogs (uuid) ON DELETE CASCADE,
    local_proxy_uuid TEXT REFERENCES microservices (uuid) ON DELETE SET NULL,
    remote_proxy_uuid TEXT REFERENCES microservices (uuid) ON DELETE SET NULL,
    public_port INTEGER NOT NULL CHECK (public_port BETWEEN 1 AND 65535),
    queue_name TEXT,
    schemes TEXT NOT NULL DEFAULT '["https"]',
    protocol TEXT NOT NULL DEFAULT 'http' CHECK (protocol IN ('http', 'tcp')),
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX microservice_public_ports_host_port
    ON microservice_public_ports (host_fog_uuid, public_port);
CREATE INDEX microservice_public_ports_local_proxy ON microservice_public_ports (local_proxy_uuid);
CREATE INDEX microservice_public_ports_remote_proxy
    ON microservice_public_ports (remote_proxy_uuid);

-- Environment variables of a microservice, in insertion order (id).
CREATE TABLE microservice_envs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX microservice_envs_microservice ON microservice_envs (microservice_uuid);

-- Command arguments (the classic "cmd" list) of a microservice, in insertion order (id).
CREATE TABLE microservice_args (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    cmd TEXT NOT NULL
) STRICT;
CREATE INDEX microservice_args_microservice ON microservice_args (microservice_uuid);

-- Extra /etc/hosts entries of a microservice: a literal address, or a template (Apps./Agents.)
-- resolved into value and kept up to date while its target moves.
CREATE TABLE microservice_extra_hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    template_type TEXT,
    public_port INTEGER,
    template TEXT,
    value TEXT,
    target_microservice_uuid TEXT REFERENCES microservices (uuid) ON DELETE SET NULL,
    target_fog_uuid TEXT REFERENCES fogs (uuid) ON DELETE SET NULL
) STRICT;
CREATE INDEX microservice_extra_hosts_microservice ON microservice_extra_hosts (microservice_uuid);
CREATE INDEX microservice_extra_hosts_target_microservice
    ON microservice_extra_hosts (target_microservice_uuid);
CREATE INDEX microservice_extra_hosts_target_fog ON microservice_extra_hosts (target_fog_uuid);

-- Volume mappings of a microservice (bind mounts or named volumes).
CREATE TABLE volume_mappings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    host_destination TEXT NOT NULL,
    container_destination TEXT NOT NULL,
    access_mode TEXT NOT NULL DEFAULT 'rw' CHECK (access_mode IN ('rw', 'ro')),
    type TEXT NOT NULL DEFAULT 'bind' CHECK (type IN ('bind', 'volume'))
) STRICT;
CREATE INDEX volume_mappings_microservice ON volume_mappings (microservice_uuid);

-- The status an agent last reported for a microservice (one row each). status is free text
-- because it comes from agents (QUEUED, PULLING, RUNNING, ... in the classic set).
CREATE TABLE microservice_statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL UNIQUE REFERENCES microservices (uuid) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'QUEUED',
    operating_duration INTEGER NOT NULL DEFAULT 0,
    start_time INTEGER NOT NULL DEFAULT 0,
    cpu_usage REAL NOT NULL DEFAULT 0,
    memory_usage INTEGER NOT NULL DEFAULT 0,
    container_id TEXT NOT NULL DEFAULT '',
    percentage REAL NOT NULL DEFAULT 0,
    error_message TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE INDEX microservice_statuses_status ON microservice_statuses (status);

-- strace diagnostics of a microservice: whether tracing is on and the collected output.
CREATE TABLE strace_diagnostics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    microservice_uuid TEXT NOT NULL UNIQUE REFERENCES microservices (uuid) ON DELETE CASCADE,
    strace_run INTEGER NOT NULL DEFAULT 0 CHECK (strace_run IN (0, 1)),
    buffer TEXT NOT NULL DEFAULT ''
) STRICT;

-- ioMessage routes between two microservices of one application: names unique per application,
-- at most one route per (source, destination) pair.
CREATE TABLE routings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    application_id INTEGER NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    source_microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    dest_microservice_uuid TEXT NOT NULL REFERENCES microservices (uuid) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    UNIQUE (application_id, name),
    UNIQUE (source_microservice_uuid, dest_microservice_uuid)
) STRICT;
CREATE INDEX routings_dest ON routings (dest_microservice_uuid);

-- Router settings of a node (its messaging, edge and inter-router ports and host), or of the
-- default router defined without a node (fog_uuid NULL, PUT /router). We store and return them
-- as the classic API does but run no router. At most one default router.
CREATE TABLE routers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fog_uuid TEXT UNIQUE REFERENCES fogs (uuid) ON DELETE CASCADE,
    is_edge INTEGER NOT NULL DEFAULT 1 CHECK (is_edge IN (0, 1)),
    messaging_port INTEGER NOT NULL DEFAULT 5672 CHECK (messaging_port BETWEEN 1 AND 65535),
    edge_router_port INTEGER CHECK (edge_router_port BETWEEN 1 AND 65535),
    inter_router_port INTEGER CHECK (inter_router_port BETWEEN 1 AND 65535),
    host TEXT,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX routers_single_default ON routers (is_default) WHERE is_default = 1;

-- Upstream links between routers (a node's upstreamRouters).
CREATE TABLE router_connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_router_id INTEGER NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    dest_router_id INTEGER NOT NULL REFERENCES routers (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    UNIQUE (source_router_id, dest_router_id)
) STRICT;
CREATE INDEX router_connections_dest ON router_connections (dest_router_id);

-- Edge resources: versioned descriptions of devices or services at the edge, with display hints,
-- a custom JSON object and an HTTP-like interface (its endpoints in edge_resource_endpoints).
CREATE TABLE edge_resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT,
    display_name TEXT,
    display_icon TEXT,
    display_color TEXT,
    interface_protocol TEXT CHECK (interface_protocol IN ('http', 'https', 'ws', 'wss')),
    custom TEXT NOT NULL DEFAULT '{}',
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX edge_resources_user_name_version ON edge_resources (user_id, name, version);
CREATE INDEX edge_resources_name ON edge_resources (name);

-- Endpoints of an edge resource's interface.
CREATE TABLE edge_resource_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    edge_resource_id INTEGER NOT NULL REFERENCES edge_resources (id) ON DELETE CASCADE,
    name TEXT,
    description TEXT,
    method TEXT,
    url TEXT,
    request_type TEXT,
    response_type TEXT,
    request_payload_example TEXT,
    response_payload_example TEXT
) STRICT;
CREATE INDEX edge_resource_endpoints_resource ON edge_resource_endpoints (edge_resource_id);

-- Orchestration tags of an edge resource.
CREATE TABLE edge_resource_tags (
    edge_resource_id INTEGER NOT NULL REFERENCES edge_resources (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (edge_resource_id, tag_id)
) STRICT;
CREATE INDEX edge_resource_tags_tag ON edge_resource_tags (tag_id);

-- Which edge resources are linked to which node (the agent is told through the
-- linkedEdgeResources change flag).
CREATE TABLE fog_edge_resources (
    fog_uuid TEXT NOT NULL REFERENCES fogs (uuid) ON DELETE CASCADE,
    edge_resource_id INTEGER NOT NULL REFERENCES edge_resources (id) ON DELETE CASCADE,
    PRIMARY KEY (fog_uuid, edge_resource_id)
) STRICT;
CREATE INDEX fog_edge_resources_resource ON fog_edge_resources (edge_resource_id);

-- Controller settings kept in the database (GET/PUT /config), e.g. default-proxy-host.
CREATE TABLE config (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
) STRICT;
