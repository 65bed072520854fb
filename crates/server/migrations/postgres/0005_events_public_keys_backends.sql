-- The audit log, users' SSH public keys and project backends.

-- An event and what it is about. `actor_user_id` is null when the system acted.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    message TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    actor_user_id TEXT REFERENCES users (id)
);
CREATE INDEX events_recorded_at_ix ON events (recorded_at, id);

-- One row per target of an event, `position` keeping their order. The project, run and fleet
-- the target belongs to are stored so that `within_*` filters need no join; the name is kept
-- as it was when the event was recorded.
CREATE TABLE event_targets (
    event_id TEXT NOT NULL REFERENCES events (id),
    position BIGINT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_project_id TEXT,
    entity_id TEXT NOT NULL,
    entity_name TEXT NOT NULL,
    entity_run_id TEXT,
    entity_fleet_id TEXT,
    PRIMARY KEY (event_id, position)
);
CREATE INDEX event_targets_entity_ix ON event_targets (entity_id);
CREATE INDEX event_targets_project_ix ON event_targets (entity_project_id);

-- SSH public keys users register; a key (by fingerprint) once per user.
CREATE TABLE user_public_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    added_at BIGINT NOT NULL,
    name TEXT NOT NULL,
    key_type TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE UNIQUE INDEX user_public_keys_user_fingerprint_uq ON user_public_keys (user_id, fingerprint);

-- Backends of a project, one per type. `config` is the JSON configuration without its
-- credentials; `creds` is their JSON in stored (encrypted) form.
CREATE TABLE backends (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    backend_type TEXT NOT NULL,
    config TEXT NOT NULL,
    creds TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX backends_project_type_uq ON backends (project_id, backend_type);
