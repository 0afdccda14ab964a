-- rowguard authorization tables (PostgreSQL). Table names follow the PHP package rowguard grew from.
CREATE TABLE authorizable_set_types (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE authorizable_models (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    table_name  VARCHAR(191) NOT NULL,
    primary_key VARCHAR(191) NOT NULL DEFAULT 'id',
    columns     TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE authorization_rules (
    id                       BIGSERIAL PRIMARY KEY,
    authorizable_set_type_id BIGINT NOT NULL REFERENCES authorizable_set_types (id),
    authorizable_set_value   VARCHAR(191) NOT NULL,
    authorizable_model_id    BIGINT NOT NULL REFERENCES authorizable_models (id),
    rules                    TEXT NOT NULL,
    created_at               TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at               TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (authorizable_set_type_id, authorizable_set_value, authorizable_model_id)
);
CREATE INDEX authorization_rules_model ON authorization_rules (authorizable_model_id);

-- One row; its version changes on every write to the three tables above, so caches see a
-- DBA's direct SQL edits.
CREATE TABLE authorization_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO authorization_state (id, version) VALUES (1, 1);

INSERT INTO authorizable_set_types (name, description) VALUES
    ('roles', 'Roles of the subject'),
    ('groups', 'Groups the subject belongs to'),
    ('id', 'The subject itself, by identifier'),
    ('universal', 'The virtual role every subject has');

CREATE FUNCTION rowguard_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE authorization_state SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER authorizable_set_types_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authorizable_set_types
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER authorizable_models_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authorizable_models
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER authorization_rules_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authorization_rules
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
