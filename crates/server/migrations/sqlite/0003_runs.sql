-- Runs and their jobs, repos with per-user creds and code blobs, uploaded file archives, job
-- logs and job metrics. Runs and jobs carry the lease columns of the pipelines that will
-- reconcile them (lock_token, lock_expires_at, last_processed_at).
CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    repo_id TEXT NOT NULL,
    run_name TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    last_processed_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    termination_reason TEXT,
    run_spec TEXT NOT NULL,
    service_spec TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    deployment_num INTEGER NOT NULL DEFAULT 0,
    resubmission_attempt INTEGER NOT NULL DEFAULT 0,
    fleet_id TEXT,
    next_triggered_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    lock_expires_at INTEGER
);
-- One live run per name and project: concurrent applies of a new name race on this index.
CREATE UNIQUE INDEX runs_project_name_uq ON runs (project_id, run_name) WHERE deleted = 0;
CREATE INDEX runs_submitted_at_ix ON runs (submitted_at, id);
CREATE INDEX runs_status_ix ON runs (status);

-- One row per job submission; `instance_id` has no foreign key on purpose (instances are
-- another migration's table and a job row outlives its instance).
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    run_id TEXT NOT NULL REFERENCES runs (id),
    run_name TEXT NOT NULL,
    job_num INTEGER NOT NULL,
    job_name TEXT NOT NULL,
    replica_num INTEGER NOT NULL,
    submission_num INTEGER NOT NULL,
    deployment_num INTEGER NOT NULL,
    submitted_at INTEGER NOT NULL,
    last_processed_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL,
    termination_reason TEXT,
    termination_reason_message TEXT,
    exit_status INTEGER,
    error TEXT,
    job_spec TEXT NOT NULL,
    instance_id TEXT,
    job_provisioning_data TEXT,
    job_runtime_data TEXT,
    inactivity_secs INTEGER,
    lock_token TEXT,
    lock_expires_at INTEGER
);
CREATE INDEX jobs_run_ix ON jobs (run_id, replica_num, job_num, submission_num);
CREATE INDEX jobs_status_ix ON jobs (status);
CREATE INDEX jobs_instance_ix ON jobs (instance_id);

-- `name` is the client's repo id (`none` for the virtual repo).
CREATE TABLE repos (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    info TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX repos_project_name_uq ON repos (project_id, name);

-- Each user's clone creds for a repo, stored encrypted.
CREATE TABLE repo_creds (
    repo_id TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    creds TEXT NOT NULL,
    PRIMARY KEY (repo_id, user_id)
);

CREATE TABLE codes (
    id TEXT PRIMARY KEY NOT NULL,
    repo_id TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    blob_hash TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE UNIQUE INDEX codes_repo_hash_uq ON codes (repo_id, blob_hash);

CREATE TABLE file_archives (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    blob_hash TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE UNIQUE INDEX file_archives_user_hash_uq ON file_archives (user_id, blob_hash);

-- Log lines of a job submission; `seq` orders lines written in the same microsecond.
CREATE TABLE job_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    producer TEXT NOT NULL,
    log_source TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX job_logs_poll_ix ON job_logs (job_id, producer, timestamp, seq);

-- Samples of a job's resource use, as the runner reports them.
CREATE TABLE job_metrics_points (
    id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    cpu_usage_micro INTEGER NOT NULL,
    memory_usage_bytes INTEGER NOT NULL,
    memory_working_set_bytes INTEGER NOT NULL,
    gpus_memory_usage_bytes TEXT NOT NULL,
    gpus_util_percent TEXT NOT NULL
);
CREATE INDEX job_metrics_points_job_ix ON job_metrics_points (job_id, timestamp);
