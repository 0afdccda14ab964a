-- Relations between models: what a rule condition such as "contact_type.name" may reach.
-- Written by sync-models (from diesel::joinable! and authorizable! declarations); a DBA can
-- read them here or through authorizable_relations_by_name. No cascades: a model that
-- relations still use cannot be deleted from under them.
CREATE TABLE authorizable_relations (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    authorizable_model_id INTEGER NOT NULL REFERENCES authorizable_models (id),
    -- NOCASE: a name unique ignoring case, as MySQL compares it (rules name relations).
    name                  TEXT NOT NULL COLLATE NOCASE,
    kind                  TEXT NOT NULL CHECK (kind IN ('belongs_to', 'has_many')),
    local_column          TEXT NOT NULL,
    target_model_id       INTEGER NOT NULL REFERENCES authorizable_models (id),
    target_column         TEXT NOT NULL,
    -- belongs_to only: the right needed on the parent a written row points at; NULL: no check.
    check_right           TEXT DEFAULT 'read'
                          CHECK (check_right IS NULL OR check_right IN ('create', 'read', 'update', 'delete')),
    created_at            TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at            TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (authorizable_model_id, name)
);
CREATE INDEX authorizable_relations_target ON authorizable_relations (target_model_id);

CREATE TRIGGER authorizable_relations_ins AFTER INSERT ON authorizable_relations
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_relations_upd AFTER UPDATE ON authorizable_relations
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorizable_relations_del AFTER DELETE ON authorizable_relations
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;

CREATE VIEW authorizable_relations_by_name AS
SELECT m.name AS model, r.name AS name, r.kind AS kind, r.local_column AS local_column,
       t.name AS target_model, r.target_column AS target_column, r.check_right AS check_right
FROM authorizable_relations r
JOIN authorizable_models m ON m.id = r.authorizable_model_id
JOIN authorizable_models t ON t.id = r.target_model_id;
