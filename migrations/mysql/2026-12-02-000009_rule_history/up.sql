-- Rule history: every insert, update and delete of the rule tables (rule rows, set types,
-- models, relations, roles, permissions, grants, inheritance) is recorded by a trigger, so a
-- DBA's SQL edit is recorded as well as the seeder's, the CLI's and the service's: the table,
-- the row's key, the row before and after (JSON text), the time (UTC), the database user and,
-- for a change made through rowguard, the application user. A rolled-back change leaves no
-- history row: the triggers write in the same transaction. Rows are never updated.

CREATE TABLE authorization_history (
    id         BIGINT PRIMARY KEY AUTO_INCREMENT,
    table_name VARCHAR(64) NOT NULL,
    operation  VARCHAR(6) NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    row_key    VARCHAR(255) NOT NULL,
    old_row    LONGTEXT,
    new_row    LONGTEXT,
    changed_at DATETIME(6) NOT NULL,
    db_user    TEXT,
    app_user   TEXT,
    model_id   BIGINT,
    KEY authorization_history_table (table_name, id),
    KEY authorization_history_model (model_id, id)
);
CREATE TRIGGER authorization_history_append_only BEFORE UPDATE ON authorization_history
FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'authorization_history is append-only';

CREATE TRIGGER authorizable_set_types_history_ins AFTER INSERT ON authorizable_set_types FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_set_types', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER authorizable_set_types_history_upd AFTER UPDATE ON authorizable_set_types FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_set_types', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER authorizable_set_types_history_del AFTER DELETE ON authorizable_set_types FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_set_types', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER authorizable_models_history_ins AFTER INSERT ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_upd AFTER UPDATE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.id);

CREATE TRIGGER authorizable_models_history_del AFTER DELETE ON authorizable_models FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_models', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, OLD.id);

CREATE TRIGGER authorization_rules_history_ins AFTER INSERT ON authorization_rules FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorization_rules', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'authorizable_set_type_id', NEW.authorizable_set_type_id, 'authorizable_set_value', NEW.authorizable_set_value, 'authorizable_model_id', NEW.authorizable_model_id, 'rules', NEW.rules, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.authorizable_model_id);

CREATE TRIGGER authorization_rules_history_upd AFTER UPDATE ON authorization_rules FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorization_rules', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'authorizable_set_type_id', OLD.authorizable_set_type_id, 'authorizable_set_value', OLD.authorizable_set_value, 'authorizable_model_id', OLD.authorizable_model_id, 'rules', OLD.rules, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'authorizable_set_type_id', NEW.authorizable_set_type_id, 'authorizable_set_value', NEW.authorizable_set_value, 'authorizable_model_id', NEW.authorizable_model_id, 'rules', NEW.rules, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.authorizable_model_id);

CREATE TRIGGER authorization_rules_history_del AFTER DELETE ON authorization_rules FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorization_rules', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'authorizable_set_type_id', OLD.authorizable_set_type_id, 'authorizable_set_value', OLD.authorizable_set_value, 'authorizable_model_id', OLD.authorizable_model_id, 'rules', OLD.rules, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, OLD.authorizable_model_id);

CREATE TRIGGER authorizable_relations_history_ins AFTER INSERT ON authorizable_relations FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_relations', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'authorizable_model_id', NEW.authorizable_model_id, 'name', NEW.name, 'kind', NEW.kind, 'local_column', NEW.local_column, 'target_model_id', NEW.target_model_id, 'target_column', NEW.target_column, 'check_right', NEW.check_right, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.authorizable_model_id);

CREATE TRIGGER authorizable_relations_history_upd AFTER UPDATE ON authorizable_relations FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_relations', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'authorizable_model_id', OLD.authorizable_model_id, 'name', OLD.name, 'kind', OLD.kind, 'local_column', OLD.local_column, 'target_model_id', OLD.target_model_id, 'target_column', OLD.target_column, 'check_right', OLD.check_right, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'authorizable_model_id', NEW.authorizable_model_id, 'name', NEW.name, 'kind', NEW.kind, 'local_column', NEW.local_column, 'target_model_id', NEW.target_model_id, 'target_column', NEW.target_column, 'check_right', NEW.check_right, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NEW.authorizable_model_id);

CREATE TRIGGER authorizable_relations_history_del AFTER DELETE ON authorizable_relations FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('authorizable_relations', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'authorizable_model_id', OLD.authorizable_model_id, 'name', OLD.name, 'kind', OLD.kind, 'local_column', OLD.local_column, 'target_model_id', OLD.target_model_id, 'target_column', OLD.target_column, 'check_right', OLD.check_right, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, OLD.authorizable_model_id);

CREATE TRIGGER roles_history_ins AFTER INSERT ON roles FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('roles', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'all_permissions', NEW.all_permissions, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER roles_history_upd AFTER UPDATE ON roles FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('roles', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'all_permissions', OLD.all_permissions, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'all_permissions', NEW.all_permissions, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER roles_history_del AFTER DELETE ON roles FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('roles', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'all_permissions', OLD.all_permissions, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER permissions_history_ins AFTER INSERT ON permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('permissions', 'insert', CONCAT_WS(',', NEW.id), NULL, JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER permissions_history_upd AFTER UPDATE ON permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('permissions', 'update', CONCAT_WS(',', NEW.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), JSON_OBJECT('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER permissions_history_del AFTER DELETE ON permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('permissions', 'delete', CONCAT_WS(',', OLD.id), JSON_OBJECT('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_permissions_history_ins AFTER INSERT ON role_permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_permissions', 'insert', CONCAT_WS(',', NEW.role_id, NEW.permission_id), NULL, JSON_OBJECT('role_id', NEW.role_id, 'permission_id', NEW.permission_id), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_permissions_history_upd AFTER UPDATE ON role_permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_permissions', 'update', CONCAT_WS(',', NEW.role_id, NEW.permission_id), JSON_OBJECT('role_id', OLD.role_id, 'permission_id', OLD.permission_id), JSON_OBJECT('role_id', NEW.role_id, 'permission_id', NEW.permission_id), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_permissions_history_del AFTER DELETE ON role_permissions FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_permissions', 'delete', CONCAT_WS(',', OLD.role_id, OLD.permission_id), JSON_OBJECT('role_id', OLD.role_id, 'permission_id', OLD.permission_id), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_inheritance_history_ins AFTER INSERT ON role_inheritance FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_inheritance', 'insert', CONCAT_WS(',', NEW.role_id, NEW.parent_role_id), NULL, JSON_OBJECT('role_id', NEW.role_id, 'parent_role_id', NEW.parent_role_id), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_inheritance_history_upd AFTER UPDATE ON role_inheritance FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_inheritance', 'update', CONCAT_WS(',', NEW.role_id, NEW.parent_role_id), JSON_OBJECT('role_id', OLD.role_id, 'parent_role_id', OLD.parent_role_id), JSON_OBJECT('role_id', NEW.role_id, 'parent_role_id', NEW.parent_role_id), UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);

CREATE TRIGGER role_inheritance_history_del AFTER DELETE ON role_inheritance FOR EACH ROW
INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, changed_at, db_user, app_user, model_id)
VALUES ('role_inheritance', 'delete', CONCAT_WS(',', OLD.role_id, OLD.parent_role_id), JSON_OBJECT('role_id', OLD.role_id, 'parent_role_id', OLD.parent_role_id), NULL, UTC_TIMESTAMP(6), USER(), @rowguard_app_user, NULL);
