-- IAM-style policies: one policy document (JSON statements) per (set type, set value). The
-- set type is named, not numbered, so a DBA edits policies with plain SQL. Like rule rows:
-- JSON enforced by the database, every change bumps the state version (caches see it) and
-- is recorded in authorization_history.
CREATE TABLE authorization_policies (
    id         BIGSERIAL PRIMARY KEY,
    set_type   VARCHAR(191) NOT NULL REFERENCES authorizable_set_types (name),
    set_value  VARCHAR(191) NOT NULL,
    policy     TEXT NOT NULL CHECK (rowguard_is_json(policy)),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (set_type, set_value)
);

CREATE TRIGGER authorization_policies_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authorization_policies
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER authorization_policies_history AFTER INSERT OR UPDATE OR DELETE ON authorization_policies
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER authorization_policies_no_truncate BEFORE TRUNCATE ON authorization_policies
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();

-- A model's ARN form (JSON; NULL: the defaults), written by sync-models from the model's
-- `arn { … }` declaration (the history trigger records whole rows: it includes it).
ALTER TABLE authorizable_models ADD COLUMN arn TEXT;
