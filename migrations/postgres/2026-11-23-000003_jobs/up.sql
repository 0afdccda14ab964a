-- Job execution: allow-listed commands run as audited jobs (postgres).
CREATE TABLE job_executions (
    uuid              VARCHAR(36) NOT NULL PRIMARY KEY,
    command           VARCHAR(191) NOT NULL,
    parameters        TEXT NOT NULL,
    user_identifier   VARCHAR(191) NOT NULL,
    instance_id       VARCHAR(191) NOT NULL,
    pid               BIGINT,
    status            VARCHAR(16) NOT NULL,
    exit_code         INTEGER,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP,
    kill_requested_by VARCHAR(191),
    kill_requested_at TIMESTAMP,
    killed_by         VARCHAR(191),
    last_heartbeat    TIMESTAMP NOT NULL
);
CREATE INDEX job_executions_running ON job_executions (status, instance_id);
CREATE TABLE job_output (
    id          BIGSERIAL PRIMARY KEY,
    job_uuid    VARCHAR(36) NOT NULL REFERENCES job_executions (uuid),
    byte_offset BIGINT NOT NULL,
    stream      VARCHAR(8) NOT NULL,
    chunk       TEXT NOT NULL
);
CREATE INDEX job_output_job ON job_output (job_uuid, byte_offset);
