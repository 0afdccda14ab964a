-- Users of the service (`rowguard serve`), their RBAC roles and their login tokens (postgres).
-- A token is stored only as the SHA-256 of its text. token_epoch: a token is valid only while
-- it carries its user's current epoch, so a password change or a lock revokes every token at
-- once, also one issued by a login that raced the change.
CREATE TABLE users (
    name          VARCHAR(64) NOT NULL PRIMARY KEY,
    password_hash VARCHAR(255) NOT NULL,
    locked        BOOLEAN NOT NULL DEFAULT FALSE,
    token_epoch   BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
-- Names are unique ignoring case: rules compare them as the database does, and MariaDB's
-- comparisons ignore case.
CREATE UNIQUE INDEX users_name_ignoring_case ON users (lower(name));
-- Role names, not ids: the seeder may replace the RBAC tables; a role that no longer exists
-- grants nothing (`rowguard users list` says so).
CREATE TABLE user_roles (
    user_name VARCHAR(64) NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role      VARCHAR(191) NOT NULL,
    PRIMARY KEY (user_name, role)
);
CREATE TABLE user_tokens (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    user_name   VARCHAR(64) NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    token_epoch BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX user_tokens_user ON user_tokens (user_name, expires_at);
