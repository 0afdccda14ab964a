-- RBAC: roles, permissions, grants and role inheritance (PostgreSQL).
CREATE TABLE roles (
    id              BIGSERIAL PRIMARY KEY,
    name            VARCHAR(191) NOT NULL UNIQUE,
    description     TEXT,
    all_permissions BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE permissions (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(191) NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE role_permissions (
    role_id       BIGINT NOT NULL REFERENCES roles (id),
    permission_id BIGINT NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE role_inheritance (
    role_id        BIGINT NOT NULL REFERENCES roles (id),
    parent_role_id BIGINT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (role_id, parent_role_id)
);
CREATE TRIGGER roles_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER permissions_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER role_permissions_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
CREATE TRIGGER role_inheritance_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_inheritance
    FOR EACH STATEMENT EXECUTE FUNCTION rowguard_bump_version();
