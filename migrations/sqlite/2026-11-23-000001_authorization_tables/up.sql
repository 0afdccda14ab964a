-- rowguard authorization tables (SQLite). Table names follow the PHP package rowguard grew from.
CREATE TABLE authorizable_set_types (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE authorizable_models (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    table_name  TEXT NOT NULL,
    primary_key TEXT NOT NULL DEFAULT 'id',
    columns     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE authorization_rules (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    authorizable_set_type_id INTEGER NOT NULL REFERENCES authorizable_set_types (id),
    authorizable_set_value   TEXT NOT NULL,
    authorizable_model_id    INTEGER NOT NULL REFERENCES authorizable_models (id),
    rules                    TEXT NOT NULL,
    created_at               TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at               TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (authorizable_set_type_id, authorizable_set_value, authorizable_model_id)
);
CREATE INDEX authorization_rules_model ON authorization_rules (authorizable_model_id);

-- One row; its version changes on every write to the three tables above, so caches see a
-- DBA's direct SQL edits.
CREATE TABLE authorization_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO authorization_state (id, version) VALUES (1, 1);

INSERT INTO authorizable_set_types (name, description) VALUES
    ('roles', 'Roles of the subject'),
    ('groups', 'Groups the subject belongs to'),
    ('id', 'The subject itself, by identifier'),
    ('universal', 'The virtual role every subject has');

CREATE TRIGGER authorizable_set_types_ins AFTER INSERT ON authorizable_set_types
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_set_types_upd AFTER UPDATE ON authorizable_set_types
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_set_types_del AFTER DELETE ON authorizable_set_types
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_models_ins AFTER INSERT ON authorizable_models
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_models_upd AFTER UPDATE ON authorizable_models
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_models_del AFTER DELETE ON authorizable_models
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorization_rules_ins AFTER INSERT ON authorization_rules
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorization_rules_upd AFTER UPDATE ON authorization_rules
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorization_rules_del AFTER DELETE ON authorization_rules
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
