-- RBAC: roles, permissions, grants and role inheritance (SQLite).
CREATE TABLE roles (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT,
    all_permissions BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE permissions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE role_permissions (
    role_id       INTEGER NOT NULL REFERENCES roles (id),
    permission_id INTEGER NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE role_inheritance (
    role_id        INTEGER NOT NULL REFERENCES roles (id),
    parent_role_id INTEGER NOT NULL REFERENCES roles (id),
    PRIMARY KEY (role_id, parent_role_id)
);
CREATE TRIGGER roles_ins AFTER INSERT ON roles BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER roles_upd AFTER UPDATE ON roles BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER roles_del AFTER DELETE ON roles BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_ins AFTER INSERT ON permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_upd AFTER UPDATE ON permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER permissions_del AFTER DELETE ON permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_ins AFTER INSERT ON role_permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_upd AFTER UPDATE ON role_permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_permissions_del AFTER DELETE ON role_permissions BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_inheritance_ins AFTER INSERT ON role_inheritance BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_inheritance_upd AFTER UPDATE ON role_inheritance BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER role_inheritance_del AFTER DELETE ON role_inheritance BEGIN UPDATE authorization_state SET version = version + 1 WHERE id = 1; END;
