-- Fleets, their instances, volumes and gateways. Every row a pipeline reconciles carries a
-- lease (`lock_token`, `lock_expires_at`) and `last_processed_at`. Names are unique among
-- live rows; deleted rows free their name. JSON columns hold wire models as text.
CREATE TABLE fleets (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    -- The FleetSpec as applied, SSH private keys included: they never leave the server.
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    autocreated INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_processed_at INTEGER NOT NULL,
    consolidation_attempt INTEGER NOT NULL DEFAULT 0,
    last_consolidated_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    lock_token TEXT,
    lock_expires_at INTEGER
);
CREATE UNIQUE INDEX fleets_project_name_uq ON fleets (project_id, name) WHERE deleted = 0;
CREATE INDEX fleets_created_at_ix ON fleets (created_at, id);

CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    fleet_id TEXT NOT NULL REFERENCES fleets (id),
    instance_num INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    unreachable INTEGER NOT NULL DEFAULT 0,
    health_status TEXT NOT NULL DEFAULT 'healthy',
    backend TEXT,
    region TEXT,
    availability_zone TEXT,
    hostname TEXT,
    price REAL,
    -- InstanceOfferWithAvailability the instance was (or will be) created from.
    offer TEXT,
    -- JobProvisioningData once the backend or SSH deployment has made the host.
    job_provisioning_data TEXT,
    -- SSH hosts: how to reach them, private keys included.
    remote_connection_info TEXT,
    total_blocks INTEGER,
    busy_blocks INTEGER NOT NULL DEFAULT 0,
    termination_reason TEXT,
    termination_reason_message TEXT,
    -- Seconds an idle instance is kept; NULL keeps it.
    termination_idle_time INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    last_job_processed_at INTEGER,
    last_processed_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    lock_token TEXT,
    lock_expires_at INTEGER
);
CREATE UNIQUE INDEX instances_fleet_num_uq ON instances (fleet_id, instance_num) WHERE deleted = 0;
CREATE INDEX instances_project_ix ON instances (project_id, status);
CREATE INDEX instances_created_at_ix ON instances (created_at, id);

CREATE TABLE volumes (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    -- The VolumeConfiguration as created.
    configuration TEXT NOT NULL,
    external INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    volume_id TEXT,
    provisioning_data TEXT,
    to_be_deleted INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_processed_at INTEGER NOT NULL,
    last_job_processed_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    lock_token TEXT,
    lock_expires_at INTEGER
);
CREATE UNIQUE INDEX volumes_project_name_uq ON volumes (project_id, name) WHERE deleted = 0;
CREATE INDEX volumes_created_at_ix ON volumes (created_at, id);

CREATE TABLE volume_attachments (
    volume_id TEXT NOT NULL REFERENCES volumes (id),
    instance_id TEXT NOT NULL REFERENCES instances (id),
    attachment_data TEXT,
    PRIMARY KEY (volume_id, instance_id)
);
CREATE INDEX volume_attachments_instance_ix ON volume_attachments (instance_id);

CREATE TABLE gateways (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    -- The GatewayConfiguration as applied.
    configuration TEXT NOT NULL,
    configuration_path TEXT,
    status TEXT NOT NULL,
    status_message TEXT,
    hostname TEXT,
    wildcard_domain TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    to_be_deleted INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_processed_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    lock_token TEXT,
    lock_expires_at INTEGER
);
CREATE UNIQUE INDEX gateways_project_name_uq ON gateways (project_id, name) WHERE deleted = 0;
-- At most one default gateway per project.
CREATE UNIQUE INDEX gateways_project_default_uq ON gateways (project_id)
    WHERE is_default = 1 AND deleted = 0;
