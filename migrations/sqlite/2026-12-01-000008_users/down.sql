DROP TABLE user_tokens;
DROP TABLE user_roles;
DROP TABLE users;
