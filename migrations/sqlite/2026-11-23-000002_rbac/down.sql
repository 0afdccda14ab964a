DROP TABLE role_inheritance;
DROP TABLE role_permissions;
DROP TABLE permissions;
DROP TABLE roles;
