-- RBAC: roles, permissions, grants and role inheritance (MySQL/MariaDB).
CREATE TABLE roles (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name            VARCHAR(191) NOT NULL UNIQUE,
    description     TEXT,
    all_permissions BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE permissions (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE role_permissions (
    role_id       BIGINT NOT NULL,
    permission_id BIGINT NOT NULL,
    PRIMARY KEY (role_id, permission_id),
    CONSTRAINT role_permissions_role FOREIGN KEY (role_id) REFERENCES roles (id),
    CONSTRAINT role_permissions_permission FOREIGN KEY (permission_id) REFERENCES permissions (id)
) ENGINE = InnoDB;
CREATE TABLE role_inheritance (
    role_id        BIGINT NOT NULL,
    parent_role_id BIGINT NOT NULL,
    PRIMARY KEY (role_id, parent_role_id),
    CONSTRAINT role_inheritance_role FOREIGN KEY (role_id) REFERENCES roles (id),
    CONSTRAINT role_inheritance_parent FOREIGN KEY (parent_role_id) REFERENCES roles (id)
) ENGINE = InnoDB;
CREATE TRIGGER roles_ins AFTER INSERT ON roles FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER roles_upd AFTER UPDATE ON roles FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER roles_del AFTER DELETE ON roles FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER permissions_ins AFTER INSERT ON permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER permissions_upd AFTER UPDATE ON permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER permissions_del AFTER DELETE ON permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_permissions_ins AFTER INSERT ON role_permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_permissions_upd AFTER UPDATE ON role_permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_permissions_del AFTER DELETE ON role_permissions FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_inheritance_ins AFTER INSERT ON role_inheritance FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_inheritance_upd AFTER UPDATE ON role_inheritance FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
CREATE TRIGGER role_inheritance_del AFTER DELETE ON role_inheritance FOR EACH ROW UPDATE authorization_state SET version = version + 1 WHERE id = 1;
