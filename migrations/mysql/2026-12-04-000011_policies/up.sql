-- IAM-style policies: one policy document (JSON statements) per (set type, set value). The
-- set type is named, not numbered, so a DBA edits policies with plain SQL. Like rule rows:
-- JSON enforced by the database, every change bumps the state version (caches see it) and
-- is recorded in authorization_history.
CREATE TABLE authorization_policies (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    set_type   VARCHAR(191) NOT NULL,
    set_value  VARCHAR(191) NOT NULL,
    -- rowguard caps a policy at 64 KiB; TEXT stops one byte short of that.
    policy     MEDIUMTEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY authorization_policies_unique (set_type, set_value),
    CONSTRAINT authorization_policies_set_type FOREIGN KEY (set_type) REFERENCES authorizable_set_types (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TRIGGER authorization_policies_json_ins BEFORE INSERT ON authorization_policies
FOR EACH ROW BEGIN
    IF NOT JSON_VALID(NEW.policy) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'authorization_policies.policy must be JSON';
    END IF;
END;
CREATE TRIGGER authorization_policies_json_upd BEFORE UPDATE ON authorization_policies
FOR EACH ROW BEGIN
    IF NOT JSON_VALID(NEW.policy) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'authorization_policies.policy must be JSON';
    END IF;
END;

CREATE TRIGGER authorization_policies_ins AFTER INSERT ON authorization_policies FOR EACH ROW BEGIN
    UPDATE authorization_state SET version = version + 1 WHERE id = 1;
    INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
    VALUES ('authorization_policies', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'set_type', NEW.set_type, 'set_value', NEW.set_value, 'policy', NEW.policy, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);
END;
CREATE TRIGGER authorization_policies_upd AFTER UPDATE ON authorization_policies FOR EACH ROW BEGIN
    UPDATE authorization_state SET version = version + 1 WHERE id = 1;
    INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
    VALUES ('authorization_policies', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'set_type', OLD.set_type, 'set_value', OLD.set_value, 'policy', OLD.policy, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'set_type', NEW.set_type, 'set_value', NEW.set_value, 'policy', NEW.policy, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);
END;
CREATE TRIGGER authorization_policies_del AFTER DELETE ON authorization_policies FOR EACH ROW BEGIN
    UPDATE authorization_state SET version = version + 1 WHERE id = 1;
    INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
    VALUES ('authorization_policies', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'set_type', OLD.set_type, 'set_value', OLD.set_value, 'policy', OLD.policy, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);
END;

-- A model's ARN form (JSON; NULL: the defaults), written by sync-models from the model's
-- `arn { … }` declaration. The history records it: its triggers are recreated with it.
ALTER TABLE authorizable_models ADD COLUMN arn TEXT;
DROP TRIGGER authorizable_models_history_ins;
DROP TRIGGER authorizable_models_history_upd;
DROP TRIGGER authorizable_models_history_del;
CREATE TRIGGER authorizable_models_history_ins AFTER INSERT ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'arn', NEW.arn, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_upd AFTER UPDATE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'arn', OLD.arn, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'arn', NEW.arn, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_del AFTER DELETE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'arn', OLD.arn, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, OLD.id);
