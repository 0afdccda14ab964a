-- IAM-style policies: one policy document (JSON statements) per (set type, set value). The
-- set type is named, not numbered, so a DBA edits policies with plain SQL. Like rule rows:
-- JSON enforced by the database, every change bumps the state version (caches see it) and
-- is recorded in authorization_history.
CREATE TABLE authorization_policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    set_type   TEXT NOT NULL REFERENCES authorizable_set_types (name),
    set_value  TEXT NOT NULL,
    policy     TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (set_type, set_value)
);

CREATE TRIGGER authorization_policies_json_ins BEFORE INSERT ON authorization_policies
WHEN NOT json_valid(NEW.policy)
BEGIN SELECT RAISE(ABORT, 'authorization_policies.policy must be JSON'); END;
CREATE TRIGGER authorization_policies_json_upd BEFORE UPDATE OF policy ON authorization_policies
WHEN NOT json_valid(NEW.policy)
BEGIN SELECT RAISE(ABORT, 'authorization_policies.policy must be JSON'); END;

CREATE TRIGGER authorization_policies_ins AFTER INSERT ON authorization_policies
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorization_policies_upd AFTER UPDATE ON authorization_policies
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER authorization_policies_del AFTER DELETE ON authorization_policies
BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER authorization_policies_history_ins AFTER INSERT ON authorization_policies
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_policies', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'set_type', NEW.set_type, 'set_value', NEW.set_value, 'policy', NEW.policy, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER authorization_policies_history_upd AFTER UPDATE ON authorization_policies
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_policies', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'set_type', OLD.set_type, 'set_value', OLD.set_value, 'policy', OLD.policy, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'set_type', NEW.set_type, 'set_value', NEW.set_value, 'policy', NEW.policy, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER authorization_policies_history_del AFTER DELETE ON authorization_policies
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_policies', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'set_type', OLD.set_type, 'set_value', OLD.set_value, 'policy', OLD.policy, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

-- REPLACE and upserts would delete a row without the delete trigger: refused.
CREATE TRIGGER authorization_policies_history_no_replace_ins BEFORE INSERT ON authorization_policies
WHEN EXISTS (SELECT 1 FROM authorization_policies WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM authorization_policies WHERE set_type = NEW.set_type AND set_value = NEW.set_value)
BEGIN SELECT RAISE(ABORT, 'authorization_policies: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER authorization_policies_history_no_replace_upd BEFORE UPDATE ON authorization_policies
WHEN EXISTS (SELECT 1 FROM authorization_policies WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM authorization_policies WHERE set_type = NEW.set_type AND set_value = NEW.set_value AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'authorization_policies: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

-- A model's ARN form (JSON; NULL: the defaults), written by sync-models from the model's
-- `arn { … }` declaration. The history records it: its triggers are recreated with it.
ALTER TABLE authorizable_models ADD COLUMN arn TEXT;
DROP TRIGGER authorizable_models_history_ins;
DROP TRIGGER authorizable_models_history_upd;
DROP TRIGGER authorizable_models_history_del;
CREATE TRIGGER authorizable_models_history_ins AFTER INSERT ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'arn', NEW.arn, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.id); END;

CREATE TRIGGER authorizable_models_history_upd AFTER UPDATE ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'arn', OLD.arn, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'arn', NEW.arn, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.id); END;

CREATE TRIGGER authorizable_models_history_del AFTER DELETE ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'arn', OLD.arn, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), OLD.id); END;
