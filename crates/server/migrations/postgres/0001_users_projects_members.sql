-- Users, projects and memberships. Ids are UUID text, times are microseconds since the Unix
-- epoch (UTC), flags are 0/1: the same column types on both engines (see src/db/mod.rs).
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    global_role TEXT NOT NULL,
    email TEXT,
    active SMALLINT NOT NULL,
    deleted SMALLINT NOT NULL DEFAULT 0,
    token_hash TEXT NOT NULL,
    ssh_public_key TEXT,
    ssh_private_key TEXT
);
-- Names are unique among live users, regardless of case; deleted users free their name.
CREATE UNIQUE INDEX users_name_uq ON users (lower(name)) WHERE deleted = 0;
CREATE UNIQUE INDEX users_token_hash_uq ON users (token_hash);
CREATE INDEX users_created_at_ix ON users (created_at, id);

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    is_public SMALLINT NOT NULL,
    templates_repo TEXT,
    deleted SMALLINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX projects_name_uq ON projects (name) WHERE deleted = 0;
CREATE INDEX projects_created_at_ix ON projects (created_at, id);

CREATE TABLE members (
    project_id TEXT NOT NULL REFERENCES projects (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    project_role TEXT NOT NULL,
    member_num BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX members_user_ix ON members (user_id);
