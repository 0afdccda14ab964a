ALTER TABLE authorizable_models DROP COLUMN arn;
DROP TABLE authorization_policies;
-- Caches must drop what they hold of the policies and ARN forms gone now.
UPDATE authorization_state SET version = version + 1 WHERE id = 1;
