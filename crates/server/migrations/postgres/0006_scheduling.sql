-- What the job pipelines remember between passes: the runner's log cursor, when contact with
-- the job was lost, and when a gracefully stopped job's container may be removed.
ALTER TABLE jobs ADD COLUMN runner_timestamp BIGINT;
ALTER TABLE jobs ADD COLUMN disconnected_at BIGINT;
ALTER TABLE jobs ADD COLUMN remove_at BIGINT;
CREATE INDEX jobs_status_processed_ix ON jobs (status, last_processed_at);
CREATE INDEX instances_status_processed_ix ON instances (status, last_processed_at);
