-- rowguard authorization tables (MySQL/MariaDB). Table names follow the PHP package rowguard grew from.
CREATE TABLE authorizable_set_types (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE authorizable_models (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    table_name  VARCHAR(191) NOT NULL,
    primary_key VARCHAR(191) NOT NULL DEFAULT 'id',
    columns     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE authorization_rules (
    id                       BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    authorizable_set_type_id BIGINT NOT NULL,
    authorizable_set_value   VARCHAR(191) NOT NULL,
    authorizable_model_id    BIGINT NOT NULL,
    rules                    TEXT NOT NULL,
    created_at               TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at               TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY authorization_rules_unique (authorizable_set_type_id, authorizable_set_value, authorizable_model_id),
    KEY authorization_rules_model (authorizable_model_id),
    CONSTRAINT authorization_rules_set_type FOREIGN KEY (authorizable_set_type_id) REFERENCES authorizable_set_types (id),
    CONSTRAINT authorization_rules_model_fk FOREIGN KEY (authorizable_model_id) REFERENCES authorizable_models (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One row; its version changes on every write to the three tables above, so caches see a
-- DBA's direct SQL edits.
CREATE TABLE authorization_state (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
) ENGINE = InnoDB;
INSERT INTO authorization_state (id, version) VALUES (1, 1);

INSERT INTO authorizable_set_types (name, description) VALUES
    ('roles', 'Roles of the subject'),
    ('groups', 'Groups the subject belongs to'),
    ('id', 'The subject itself, by identifier'),
    ('universal', 'The virtual role every subject has');

CREATE TRIGGER authorizable_set_types_ins AFTER INSERT ON authorizable_set_types
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_set_types_upd AFTER UPDATE ON authorizable_set_types
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_set_types_del AFTER DELETE ON authorizable_set_types
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_models_ins AFTER INSERT ON authorizable_models
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_models_upd AFTER UPDATE ON authorizable_models
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorizable_models_del AFTER DELETE ON authorizable_models
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorization_rules_ins AFTER INSERT ON authorization_rules
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorization_rules_upd AFTER UPDATE ON authorization_rules
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER authorization_rules_del AFTER DELETE ON authorization_rules
    FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
