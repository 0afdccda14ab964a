-- The database refuses a rule document that is not JSON, whoever writes it. Triggers rather
-- than a CHECK: rows written before are not rechecked (`rules check` lists bad ones).
CREATE TRIGGER authorization_rules_json_ins BEFORE INSERT ON authorization_rules
FOR EACH ROW BEGIN
    IF NOT JSON_VALID(NEW.rules) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'authorization_rules.rules must be JSON';
    END IF;
END;
CREATE TRIGGER authorization_rules_json_upd BEFORE UPDATE ON authorization_rules
FOR EACH ROW BEGIN
    IF NOT JSON_VALID(NEW.rules) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'authorization_rules.rules must be JSON';
    END IF;
END;

-- Rules by name, for DBAs. MySQL/MariaDB let a join view's UPDATE change the columns of one
-- table: only the rules document is a plain column here (the names are expressions, so an
-- UPDATE cannot rename a model or set type for every rule); insert and delete with
-- `rowguard rules set|delete`.
CREATE VIEW authorization_rules_by_name AS
SELECT r.id + 0 AS id,
       CONCAT(t.name) AS set_type,
       CONCAT(r.authorizable_set_value) AS set_value,
       CONCAT(m.name) AS model,
       r.rules AS rules
FROM authorization_rules r
JOIN authorizable_set_types t ON t.id = r.authorizable_set_type_id
JOIN authorizable_models m ON m.id = r.authorizable_model_id;
