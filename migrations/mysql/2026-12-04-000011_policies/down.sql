DROP TRIGGER authorizable_models_history_ins;
DROP TRIGGER authorizable_models_history_upd;
DROP TRIGGER authorizable_models_history_del;
CREATE TRIGGER authorizable_models_history_ins AFTER INSERT ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_upd AFTER UPDATE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_del AFTER DELETE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, OLD.id);
ALTER TABLE authorizable_models DROP COLUMN arn;
DROP TABLE authorization_policies;
-- Caches must drop what they hold of the policies and ARN forms gone now.
UPDATE authorization_state SET version = version + 1 WHERE id = 1;
