-- The database refuses a rule document that is not JSON, whoever writes it (rowguard, a DBA
-- in the sqlite3 shell). Existing rows are left as they are: `rules check` lists bad ones.
CREATE TRIGGER authorization_rules_json_ins BEFORE INSERT ON authorization_rules
WHEN NOT json_valid(NEW.rules)
BEGIN SELECT RAISE(ABORT, 'authorization_rules.rules must be JSON'); END;
CREATE TRIGGER authorization_rules_json_upd BEFORE UPDATE OF rules ON authorization_rules
WHEN NOT json_valid(NEW.rules)
BEGIN SELECT RAISE(ABORT, 'authorization_rules.rules must be JSON'); END;

-- Rules by name, for DBAs: no ids to look up. Writable through the triggers below.
CREATE VIEW authorization_rules_by_name AS
SELECT r.id AS id,
       t.name AS set_type,
       r.authorizable_set_value AS set_value,
       m.name AS model,
       r.rules AS rules
FROM authorization_rules r
JOIN authorizable_set_types t ON t.id = r.authorizable_set_type_id
JOIN authorizable_models m ON m.id = r.authorizable_model_id;

CREATE TRIGGER authorization_rules_by_name_ins INSTEAD OF INSERT ON authorization_rules_by_name
BEGIN
    SELECT RAISE(ABORT, 'unknown set type')
    WHERE NOT EXISTS (SELECT 1 FROM authorizable_set_types WHERE name = NEW.set_type);
    SELECT RAISE(ABORT, 'unknown model')
    WHERE NOT EXISTS (SELECT 1 FROM authorizable_models WHERE name = NEW.model);
    INSERT INTO authorization_rules
        (authorizable_set_type_id, authorizable_set_value, authorizable_model_id, rules)
    VALUES ((SELECT id FROM authorizable_set_types WHERE name = NEW.set_type),
            NEW.set_value,
            (SELECT id FROM authorizable_models WHERE name = NEW.model),
            NEW.rules);
END;

CREATE TRIGGER authorization_rules_by_name_upd INSTEAD OF UPDATE ON authorization_rules_by_name
BEGIN
    SELECT RAISE(ABORT, 'unknown set type')
    WHERE NOT EXISTS (SELECT 1 FROM authorizable_set_types WHERE name = NEW.set_type);
    SELECT RAISE(ABORT, 'unknown model')
    WHERE NOT EXISTS (SELECT 1 FROM authorizable_models WHERE name = NEW.model);
    UPDATE authorization_rules SET
        authorizable_set_type_id = (SELECT id FROM authorizable_set_types WHERE name = NEW.set_type),
        authorizable_set_value = NEW.set_value,
        authorizable_model_id = (SELECT id FROM authorizable_models WHERE name = NEW.model),
        rules = NEW.rules,
        updated_at = CURRENT_TIMESTAMP
    WHERE id = OLD.id;
END;

CREATE TRIGGER authorization_rules_by_name_del INSTEAD OF DELETE ON authorization_rules_by_name
BEGIN
    DELETE FROM authorization_rules WHERE id = OLD.id;
END;
