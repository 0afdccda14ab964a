-- Rule history: every insert, update and delete of the rule tables (rule rows, set types,
-- models, relations, roles, permissions, grants, inheritance) is recorded by a trigger, so a
-- DBA's SQL edit is recorded as well as the seeder's, the CLI's and the service's: the table,
-- the row's key, the row before and after (JSON text), the time (UTC), the database user and,
-- for a change made through rowguard, the application user. A rolled-back change leaves no
-- history row: the triggers write in the same transaction. Rows are never updated.

CREATE TABLE authorization_history (
    id         BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    operation  TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    row_key    TEXT NOT NULL,
    old_row    TEXT,
    new_row    TEXT,
    changed_at TIMESTAMP NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC'),
    db_user    TEXT DEFAULT session_user,
    app_user   TEXT,
    model_id   BIGINT
);
CREATE INDEX authorization_history_table ON authorization_history (table_name, id);
CREATE INDEX authorization_history_model ON authorization_history (model_id, id);

CREATE FUNCTION rowguard_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'authorization_history is append-only';
END;
$$;
CREATE TRIGGER authorization_history_append_only BEFORE UPDATE ON authorization_history
    FOR EACH ROW EXECUTE FUNCTION rowguard_history_append_only();

-- One function for every table: the trigger's arguments name the key columns. The
-- application user is the transaction-local setting rowguard.app_user. SECURITY DEFINER:
-- a database user that may write the rule tables needs no right on the history table (and
-- so cannot write it directly); session_user is still the one who made the change.
CREATE FUNCTION rowguard_history() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    old_row JSONB := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row JSONB := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    row_key TEXT;
    model_id BIGINT;
BEGIN
    SELECT string_agg(COALESCE(new_row, old_row) ->> k, ',' ORDER BY n) INTO row_key
    FROM unnest(TG_ARGV) WITH ORDINALITY AS a(k, n);
    model_id := CASE TG_TABLE_NAME
        WHEN 'authorization_rules' THEN (COALESCE(new_row, old_row) ->> 'authorizable_model_id')::bigint
        WHEN 'authorizable_relations' THEN (COALESCE(new_row, old_row) ->> 'authorizable_model_id')::bigint
        WHEN 'authorizable_models' THEN (COALESCE(new_row, old_row) ->> 'id')::bigint
    END;
    INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, db_user, app_user, model_id)
    VALUES (TG_TABLE_NAME, lower(TG_OP), row_key, old_row::text, new_row::text, session_user,
            NULLIF(current_setting('rowguard.app_user', true), ''), model_id);
    RETURN NULL;
END;
$$;

-- The version trigger's function too: a role that may edit the rule tables needs no right
-- on authorization_state either.
ALTER FUNCTION rowguard_bump_version() SECURITY DEFINER SET search_path FROM CURRENT;

-- TRUNCATE fires no row trigger: refused, so that no change escapes the history.
CREATE FUNCTION rowguard_history_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is recorded row by row in authorization_history: DELETE its rows instead of TRUNCATE', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER authorizable_set_types_history AFTER INSERT OR UPDATE OR DELETE ON authorizable_set_types
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER authorizable_set_types_no_truncate BEFORE TRUNCATE ON authorizable_set_types
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER authorizable_models_history AFTER INSERT OR UPDATE OR DELETE ON authorizable_models
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER authorizable_models_no_truncate BEFORE TRUNCATE ON authorizable_models
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER authorization_rules_history AFTER INSERT OR UPDATE OR DELETE ON authorization_rules
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER authorization_rules_no_truncate BEFORE TRUNCATE ON authorization_rules
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER authorizable_relations_history AFTER INSERT OR UPDATE OR DELETE ON authorizable_relations
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER authorizable_relations_no_truncate BEFORE TRUNCATE ON authorizable_relations
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER roles_history AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER roles_no_truncate BEFORE TRUNCATE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER permissions_history AFTER INSERT OR UPDATE OR DELETE ON permissions
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('id');
CREATE TRIGGER permissions_no_truncate BEFORE TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER role_permissions_history AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('role_id', 'permission_id');
CREATE TRIGGER role_permissions_no_truncate BEFORE TRUNCATE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
CREATE TRIGGER role_inheritance_history AFTER INSERT OR UPDATE OR DELETE ON role_inheritance
    FOR EACH ROW EXECUTE FUNCTION rowguard_history('role_id', 'parent_role_id');
CREATE TRIGGER role_inheritance_no_truncate BEFORE TRUNCATE ON role_inheritance
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_history_no_truncate();
