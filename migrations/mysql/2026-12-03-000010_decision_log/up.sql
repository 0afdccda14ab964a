-- The decision log: decisions of guarded writes and explicit checks, as configured per right
-- ([decision_log]), written in batches by the application's log writer. Rows are deleted by
-- the retention limit; they are not part of the rule history.
CREATE TABLE authorization_decisions (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    decided_at DATETIME(6) NOT NULL,
    subject    MEDIUMTEXT NOT NULL,
    model      VARCHAR(255) NOT NULL,
    action     VARCHAR(16) NOT NULL,
    kind       VARCHAR(16) NOT NULL CHECK (kind IN ('check', 'write', 'lost')),
    row_key    MEDIUMTEXT,
    decision   VARCHAR(16) NOT NULL CHECK (decision IN ('allowed', 'denied', 'lost')),
    reason     MEDIUMTEXT NOT NULL,
    rules      MEDIUMTEXT NOT NULL,
    sampled    DOUBLE NOT NULL,
    count      BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE INDEX authorization_decisions_time ON authorization_decisions (decided_at);
CREATE INDEX authorization_decisions_model ON authorization_decisions (model, id);
-- The rule history's table was created without a character set, so on a server whose
-- default is latin1 a rule with other text could not be recorded (and so not be written).
ALTER TABLE authorization_history CONVERT TO CHARACTER SET utf8mb4;
