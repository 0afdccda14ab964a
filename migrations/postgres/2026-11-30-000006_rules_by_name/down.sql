DROP VIEW authorization_rules_by_name;
DROP FUNCTION rowguard_rules_by_name_write();
ALTER TABLE authorization_rules DROP CONSTRAINT authorization_rules_rules_is_json;
DROP FUNCTION rowguard_is_json(text);
