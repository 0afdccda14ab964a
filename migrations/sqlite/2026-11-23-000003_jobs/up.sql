-- Job execution: allow-listed commands run as audited jobs (sqlite).
CREATE TABLE job_executions (
    uuid              TEXT NOT NULL PRIMARY KEY,
    command           VARCHAR(191) NOT NULL,
    parameters        TEXT NOT NULL,
    user_identifier   VARCHAR(191) NOT NULL,
    instance_id       VARCHAR(191) NOT NULL,
    pid               BIGINT,
    status            VARCHAR(16) NOT NULL,
    exit_code         INTEGER,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    kill_requested_by VARCHAR(191),
    kill_requested_at TEXT,
    killed_by         VARCHAR(191),
    last_heartbeat    TEXT NOT NULL
);
CREATE INDEX job_executions_running ON job_executions (status, instance_id);
CREATE TABLE job_output (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_uuid    TEXT NOT NULL REFERENCES job_executions (uuid),
    byte_offset BIGINT NOT NULL,
    stream      VARCHAR(8) NOT NULL,
    chunk       TEXT NOT NULL
);
CREATE INDEX job_output_job ON job_output (job_uuid, byte_offset);
