-- Rule history: every insert, update and delete of the rule tables (rule rows, set types,
-- models, relations, roles, permissions, grants, inheritance) is recorded by a trigger, so a
-- DBA's SQL edit is recorded as well as the seeder's, the CLI's and the service's: the table,
-- the row's key, the row before and after (JSON text), the time (UTC), the database user and,
-- for a change made through rowguard, the application user. A rolled-back change leaves no
-- history row: the triggers write in the same transaction. Rows are never updated.

CREATE TABLE authorization_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    operation  TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    row_key    TEXT NOT NULL,
    old_row    TEXT,
    new_row    TEXT,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    db_user    TEXT,
    app_user   TEXT,
    model_id   INTEGER
);
CREATE INDEX authorization_history_table ON authorization_history (table_name, id);
CREATE INDEX authorization_history_model ON authorization_history (model_id, id);
CREATE TRIGGER authorization_history_append_only BEFORE UPDATE ON authorization_history
BEGIN SELECT RAISE(ABORT, 'authorization_history is append-only'); END;
-- SQLite has no session variables: rowguard writes the application user here at the start
-- of its write transaction and clears it before the commit (SQLite runs one writer at a
-- time, so no other transaction sees it).
CREATE TABLE authorization_app_user (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT
);
INSERT INTO authorization_app_user (id, name) VALUES (1, NULL);

CREATE TRIGGER authorizable_set_types_history_ins AFTER INSERT ON authorizable_set_types
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_set_types', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER authorizable_set_types_history_upd AFTER UPDATE ON authorizable_set_types
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_set_types', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER authorizable_set_types_history_del AFTER DELETE ON authorizable_set_types
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_set_types', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER authorizable_set_types_history_no_replace_ins BEFORE INSERT ON authorizable_set_types
WHEN EXISTS (SELECT 1 FROM authorizable_set_types WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM authorizable_set_types WHERE name = NEW.name)
BEGIN SELECT RAISE(ABORT, 'authorizable_set_types: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER authorizable_set_types_history_no_replace_upd BEFORE UPDATE ON authorizable_set_types
WHEN EXISTS (SELECT 1 FROM authorizable_set_types WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM authorizable_set_types WHERE name = NEW.name AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'authorizable_set_types: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER authorizable_models_history_ins AFTER INSERT ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.id); END;

CREATE TRIGGER authorizable_models_history_upd AFTER UPDATE ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'table_name', NEW.table_name, 'primary_key', NEW.primary_key, 'columns', NEW.columns, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.id); END;

CREATE TRIGGER authorizable_models_history_del AFTER DELETE ON authorizable_models
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_models', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'table_name', OLD.table_name, 'primary_key', OLD.primary_key, 'columns', OLD.columns, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), OLD.id); END;

CREATE TRIGGER authorizable_models_history_no_replace_ins BEFORE INSERT ON authorizable_models
WHEN EXISTS (SELECT 1 FROM authorizable_models WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM authorizable_models WHERE name = NEW.name)
BEGIN SELECT RAISE(ABORT, 'authorizable_models: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER authorizable_models_history_no_replace_upd BEFORE UPDATE ON authorizable_models
WHEN EXISTS (SELECT 1 FROM authorizable_models WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM authorizable_models WHERE name = NEW.name AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'authorizable_models: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER authorization_rules_history_ins AFTER INSERT ON authorization_rules
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_rules', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'authorizable_set_type_id', NEW.authorizable_set_type_id, 'authorizable_set_value', NEW.authorizable_set_value, 'authorizable_model_id', NEW.authorizable_model_id, 'rules', NEW.rules, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.authorizable_model_id); END;

CREATE TRIGGER authorization_rules_history_upd AFTER UPDATE ON authorization_rules
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_rules', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'authorizable_set_type_id', OLD.authorizable_set_type_id, 'authorizable_set_value', OLD.authorizable_set_value, 'authorizable_model_id', OLD.authorizable_model_id, 'rules', OLD.rules, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'authorizable_set_type_id', NEW.authorizable_set_type_id, 'authorizable_set_value', NEW.authorizable_set_value, 'authorizable_model_id', NEW.authorizable_model_id, 'rules', NEW.rules, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.authorizable_model_id); END;

CREATE TRIGGER authorization_rules_history_del AFTER DELETE ON authorization_rules
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorization_rules', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'authorizable_set_type_id', OLD.authorizable_set_type_id, 'authorizable_set_value', OLD.authorizable_set_value, 'authorizable_model_id', OLD.authorizable_model_id, 'rules', OLD.rules, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), OLD.authorizable_model_id); END;

CREATE TRIGGER authorization_rules_history_no_replace_ins BEFORE INSERT ON authorization_rules
WHEN EXISTS (SELECT 1 FROM authorization_rules WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM authorization_rules WHERE authorizable_set_type_id = NEW.authorizable_set_type_id AND authorizable_set_value = NEW.authorizable_set_value AND authorizable_model_id = NEW.authorizable_model_id)
BEGIN SELECT RAISE(ABORT, 'authorization_rules: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER authorization_rules_history_no_replace_upd BEFORE UPDATE ON authorization_rules
WHEN EXISTS (SELECT 1 FROM authorization_rules WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM authorization_rules WHERE authorizable_set_type_id = NEW.authorizable_set_type_id AND authorizable_set_value = NEW.authorizable_set_value AND authorizable_model_id = NEW.authorizable_model_id AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'authorization_rules: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER authorizable_relations_history_ins AFTER INSERT ON authorizable_relations
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_relations', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'authorizable_model_id', NEW.authorizable_model_id, 'name', NEW.name, 'kind', NEW.kind, 'local_column', NEW.local_column, 'target_model_id', NEW.target_model_id, 'target_column', NEW.target_column, 'check_right', NEW.check_right, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.authorizable_model_id); END;

CREATE TRIGGER authorizable_relations_history_upd AFTER UPDATE ON authorizable_relations
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_relations', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'authorizable_model_id', OLD.authorizable_model_id, 'name', OLD.name, 'kind', OLD.kind, 'local_column', OLD.local_column, 'target_model_id', OLD.target_model_id, 'target_column', OLD.target_column, 'check_right', OLD.check_right, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'authorizable_model_id', NEW.authorizable_model_id, 'name', NEW.name, 'kind', NEW.kind, 'local_column', NEW.local_column, 'target_model_id', NEW.target_model_id, 'target_column', NEW.target_column, 'check_right', NEW.check_right, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NEW.authorizable_model_id); END;

CREATE TRIGGER authorizable_relations_history_del AFTER DELETE ON authorizable_relations
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('authorizable_relations', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'authorizable_model_id', OLD.authorizable_model_id, 'name', OLD.name, 'kind', OLD.kind, 'local_column', OLD.local_column, 'target_model_id', OLD.target_model_id, 'target_column', OLD.target_column, 'check_right', OLD.check_right, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), OLD.authorizable_model_id); END;

CREATE TRIGGER authorizable_relations_history_no_replace_ins BEFORE INSERT ON authorizable_relations
WHEN EXISTS (SELECT 1 FROM authorizable_relations WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM authorizable_relations WHERE authorizable_model_id = NEW.authorizable_model_id AND name = NEW.name)
BEGIN SELECT RAISE(ABORT, 'authorizable_relations: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER authorizable_relations_history_no_replace_upd BEFORE UPDATE ON authorizable_relations
WHEN EXISTS (SELECT 1 FROM authorizable_relations WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM authorizable_relations WHERE authorizable_model_id = NEW.authorizable_model_id AND name = NEW.name AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'authorizable_relations: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER roles_history_ins AFTER INSERT ON roles
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('roles', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'all_permissions', NEW.all_permissions, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER roles_history_upd AFTER UPDATE ON roles
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('roles', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'all_permissions', OLD.all_permissions, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'all_permissions', NEW.all_permissions, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER roles_history_del AFTER DELETE ON roles
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('roles', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'all_permissions', OLD.all_permissions, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER roles_history_no_replace_ins BEFORE INSERT ON roles
WHEN EXISTS (SELECT 1 FROM roles WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM roles WHERE name = NEW.name)
BEGIN SELECT RAISE(ABORT, 'roles: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER roles_history_no_replace_upd BEFORE UPDATE ON roles
WHEN EXISTS (SELECT 1 FROM roles WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM roles WHERE name = NEW.name AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'roles: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER permissions_history_ins AFTER INSERT ON permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('permissions', 'insert', CAST(NEW.id AS TEXT), NULL, json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER permissions_history_upd AFTER UPDATE ON permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('permissions', 'update', CAST(NEW.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, 'created_at', NEW.created_at, 'updated_at', NEW.updated_at), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER permissions_history_del AFTER DELETE ON permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('permissions', 'delete', CAST(OLD.id AS TEXT), json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, 'created_at', OLD.created_at, 'updated_at', OLD.updated_at), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER permissions_history_no_replace_ins BEFORE INSERT ON permissions
WHEN EXISTS (SELECT 1 FROM permissions WHERE id = NEW.id) OR EXISTS (SELECT 1 FROM permissions WHERE name = NEW.name)
BEGIN SELECT RAISE(ABORT, 'permissions: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER permissions_history_no_replace_upd BEFORE UPDATE ON permissions
WHEN EXISTS (SELECT 1 FROM permissions WHERE id = NEW.id AND rowid <> OLD.rowid) OR EXISTS (SELECT 1 FROM permissions WHERE name = NEW.name AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'permissions: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER role_permissions_history_ins AFTER INSERT ON role_permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_permissions', 'insert', CAST(NEW.role_id AS TEXT) || ',' || CAST(NEW.permission_id AS TEXT), NULL, json_object('role_id', NEW.role_id, 'permission_id', NEW.permission_id), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_permissions_history_upd AFTER UPDATE ON role_permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_permissions', 'update', CAST(NEW.role_id AS TEXT) || ',' || CAST(NEW.permission_id AS TEXT), json_object('role_id', OLD.role_id, 'permission_id', OLD.permission_id), json_object('role_id', NEW.role_id, 'permission_id', NEW.permission_id), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_permissions_history_del AFTER DELETE ON role_permissions
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_permissions', 'delete', CAST(OLD.role_id AS TEXT) || ',' || CAST(OLD.permission_id AS TEXT), json_object('role_id', OLD.role_id, 'permission_id', OLD.permission_id), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_permissions_history_no_replace_ins BEFORE INSERT ON role_permissions
WHEN EXISTS (SELECT 1 FROM role_permissions WHERE role_id = NEW.role_id AND permission_id = NEW.permission_id)
BEGIN SELECT RAISE(ABORT, 'role_permissions: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER role_permissions_history_no_replace_upd BEFORE UPDATE ON role_permissions
WHEN EXISTS (SELECT 1 FROM role_permissions WHERE role_id = NEW.role_id AND permission_id = NEW.permission_id AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'role_permissions: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;

CREATE TRIGGER role_inheritance_history_ins AFTER INSERT ON role_inheritance
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_inheritance', 'insert', CAST(NEW.role_id AS TEXT) || ',' || CAST(NEW.parent_role_id AS TEXT), NULL, json_object('role_id', NEW.role_id, 'parent_role_id', NEW.parent_role_id), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_inheritance_history_upd AFTER UPDATE ON role_inheritance
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_inheritance', 'update', CAST(NEW.role_id AS TEXT) || ',' || CAST(NEW.parent_role_id AS TEXT), json_object('role_id', OLD.role_id, 'parent_role_id', OLD.parent_role_id), json_object('role_id', NEW.role_id, 'parent_role_id', NEW.parent_role_id), (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_inheritance_history_del AFTER DELETE ON role_inheritance
BEGIN INSERT INTO authorization_history (table_name, operation, row_key, old_row, new_row, app_user, model_id)
VALUES ('role_inheritance', 'delete', CAST(OLD.role_id AS TEXT) || ',' || CAST(OLD.parent_role_id AS TEXT), json_object('role_id', OLD.role_id, 'parent_role_id', OLD.parent_role_id), NULL, (SELECT name FROM authorization_app_user WHERE id = 1), NULL); END;

CREATE TRIGGER role_inheritance_history_no_replace_ins BEFORE INSERT ON role_inheritance
WHEN EXISTS (SELECT 1 FROM role_inheritance WHERE role_id = NEW.role_id AND parent_role_id = NEW.parent_role_id)
BEGIN SELECT RAISE(ABORT, 'role_inheritance: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
CREATE TRIGGER role_inheritance_history_no_replace_upd BEFORE UPDATE ON role_inheritance
WHEN EXISTS (SELECT 1 FROM role_inheritance WHERE role_id = NEW.role_id AND parent_role_id = NEW.parent_role_id AND rowid <> OLD.rowid)
BEGIN SELECT RAISE(ABORT, 'role_inheritance: a row with this key exists; use UPDATE or DELETE (REPLACE and upserts would bypass authorization_history)'); END;
