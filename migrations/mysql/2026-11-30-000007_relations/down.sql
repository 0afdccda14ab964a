DROP VIEW authorizable_relations_by_name;
DROP TABLE authorizable_relations;
