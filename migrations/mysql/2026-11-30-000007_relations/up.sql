-- Relations between models: what a rule condition such as "contact_type.name" may reach.
-- Written by sync-models (from diesel::joinable! and authorizable! declarations); a DBA can
-- read them here or through authorizable_relations_by_name. No cascades: a model that
-- relations still use cannot be deleted from under them.
CREATE TABLE authorizable_relations (
    id                    BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    authorizable_model_id BIGINT NOT NULL,
    name                  VARCHAR(191) NOT NULL,
    kind                  VARCHAR(16) NOT NULL CHECK (kind IN ('belongs_to', 'has_many')),
    local_column          VARCHAR(191) NOT NULL,
    target_model_id       BIGINT NOT NULL,
    target_column         VARCHAR(191) NOT NULL,
    -- belongs_to only: the right needed on the parent a written row points at; NULL: no check.
    check_right           VARCHAR(16) DEFAULT 'read'
                          CHECK (check_right IS NULL OR check_right IN ('create', 'read', 'update', 'delete')),
    created_at            TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at            TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    -- The table's default collation ignores case: a name is unique ignoring case.
    UNIQUE KEY authorizable_relations_unique (authorizable_model_id, name),
    KEY authorizable_relations_target (target_model_id),
    CONSTRAINT authorizable_relations_model_fk FOREIGN KEY (authorizable_model_id) REFERENCES authorizable_models (id),
    CONSTRAINT authorizable_relations_target_fk FOREIGN KEY (target_model_id) REFERENCES authorizable_models (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TRIGGER authorizable_relations_ins AFTER INSERT ON authorizable_relations
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_relations_upd AFTER UPDATE ON authorizable_relations
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_relations_del AFTER DELETE ON authorizable_relations
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;

CREATE VIEW authorizable_relations_by_name AS
SELECT m.name AS model, r.name AS name, r.kind AS kind, r.local_column AS local_column,
       t.name AS target_model, r.target_column AS target_column, r.check_right AS check_right
FROM authorizable_relations r
JOIN authorizable_models m ON m.id = r.authorizable_model_id
JOIN authorizable_models t ON t.id = r.target_model_id;
