DROP TABLE authorization_rules;
DROP TABLE authorizable_models;
DROP TABLE authorizable_set_types;
DROP TABLE authorization_state;
