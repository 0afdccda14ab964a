-- Users of the service (`rowguard serve`), their RBAC roles and their login tokens (mysql).
-- A token is stored only as the SHA-256 of its text. token_epoch: a token is valid only while
-- it carries its user's current epoch, so a password change or a lock revokes every token at
-- once, also one issued by a login that raced the change.
-- utf8mb4_bin: user names compare exactly, as on the other backends ("Ann" is not "ann").
CREATE TABLE users (
    name          VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    password_hash VARCHAR(255) NOT NULL,
    locked        BOOLEAN NOT NULL DEFAULT FALSE,
    token_epoch   BIGINT NOT NULL DEFAULT 0,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    -- Names are unique ignoring case: rules compare them as the database does (job owners'
    -- columns ignore case here).
    name_lower    VARCHAR(64) GENERATED ALWAYS AS (LOWER(name)) STORED,
    CONSTRAINT users_name_ignoring_case UNIQUE (name_lower)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
-- Role names, not ids: the seeder may replace the RBAC tables; a role that no longer exists
-- grants nothing (`rowguard users list` says so).
CREATE TABLE user_roles (
    user_name VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    role      VARCHAR(191) NOT NULL,
    PRIMARY KEY (user_name, role),
    CONSTRAINT user_roles_user_fk FOREIGN KEY (user_name) REFERENCES users (name) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE user_tokens (
    token_hash  CHAR(64) NOT NULL PRIMARY KEY,
    user_name   VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    token_epoch BIGINT NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    CONSTRAINT user_tokens_user_fk FOREIGN KEY (user_name) REFERENCES users (name) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE INDEX user_tokens_user ON user_tokens (user_name, expires_at);
