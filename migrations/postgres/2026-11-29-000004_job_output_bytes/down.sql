-- Bytes that are not valid text come back in PostgreSQL's escape form (\ooo).
ALTER TABLE job_output ALTER COLUMN chunk TYPE TEXT USING encode(chunk, 'escape');
