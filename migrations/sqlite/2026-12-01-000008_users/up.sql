-- Users of the service (`rowguard serve`), their RBAC roles and their login tokens (SQLite).
-- A token is stored only as the SHA-256 of its text. token_epoch: a token is valid only while
-- it carries its user's current epoch, so a password change or a lock revokes every token at
-- once, also one issued by a login that raced the change.
CREATE TABLE users (
    name          TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    locked        BOOLEAN NOT NULL DEFAULT FALSE,
    token_epoch   BIGINT NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- Names are unique ignoring case: rules compare them as the database does, and MariaDB's
-- comparisons ignore case.
CREATE UNIQUE INDEX users_name_ignoring_case ON users (lower(name));
-- Role names, not ids: the seeder may replace the RBAC tables; a role that no longer exists
-- grants nothing (`rowguard users list` says so).
CREATE TABLE user_roles (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (user_name, role)
);
CREATE TABLE user_tokens (
    token_hash  TEXT NOT NULL PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    token_epoch BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX user_tokens_user ON user_tokens (user_name, expires_at);
