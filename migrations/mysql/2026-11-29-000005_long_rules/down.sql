ALTER TABLE authorization_rules MODIFY rules TEXT CHARACTER SET utf8mb4 NOT NULL;
