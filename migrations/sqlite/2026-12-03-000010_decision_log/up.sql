-- The decision log: decisions of guarded writes and explicit checks, as configured per right
-- ([decision_log]), written in batches by the application's log writer. Rows are deleted by
-- the retention limit; they are not part of the rule history.
CREATE TABLE authorization_decisions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at TEXT NOT NULL,
    subject    TEXT NOT NULL,
    model      TEXT NOT NULL,
    action     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('check', 'write', 'lost')),
    row_key    TEXT,
    decision   TEXT NOT NULL CHECK (decision IN ('allowed', 'denied', 'lost')),
    reason     TEXT NOT NULL,
    rules      TEXT NOT NULL,
    sampled    REAL NOT NULL,
    count      INTEGER NOT NULL
);
CREATE INDEX authorization_decisions_time ON authorization_decisions (decided_at);
CREATE INDEX authorization_decisions_model ON authorization_decisions (model, id);
