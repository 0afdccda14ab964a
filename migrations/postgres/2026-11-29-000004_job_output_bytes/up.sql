-- Job output is stored as the raw bytes the program wrote (not decoded text).
ALTER TABLE job_output ALTER COLUMN chunk TYPE BYTEA USING convert_to(chunk, 'UTF8');
