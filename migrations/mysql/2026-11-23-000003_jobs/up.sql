-- Job execution: allow-listed commands run as audited jobs (mysql).
CREATE TABLE job_executions (
    uuid              VARCHAR(36) NOT NULL PRIMARY KEY,
    command           VARCHAR(191) NOT NULL,
    parameters        LONGTEXT NOT NULL,
    user_identifier   VARCHAR(191) NOT NULL,
    instance_id       VARCHAR(191) NOT NULL,
    pid               BIGINT,
    status            VARCHAR(16) NOT NULL,
    exit_code         INTEGER,
    started_at        DATETIME(6) NOT NULL,
    finished_at       DATETIME(6),
    kill_requested_by VARCHAR(191),
    kill_requested_at DATETIME(6),
    killed_by         VARCHAR(191),
    last_heartbeat    DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE INDEX job_executions_running ON job_executions (status, instance_id);
CREATE TABLE job_output (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    job_uuid    VARCHAR(36) NOT NULL,
    byte_offset BIGINT NOT NULL,
    stream      VARCHAR(8) NOT NULL,
    chunk       LONGTEXT NOT NULL,
    CONSTRAINT job_output_job_fk FOREIGN KEY (job_uuid) REFERENCES job_executions (uuid)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE INDEX job_output_job ON job_output (job_uuid, byte_offset);
