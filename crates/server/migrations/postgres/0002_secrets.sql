-- Project secrets; `value` is the stored form (enc:<type>:<key name>:<payload>, see
-- src/services/encryption.rs). Secrets are deleted for good, so names are unique outright.
CREATE TABLE secrets (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX secrets_project_name_uq ON secrets (project_id, name);
