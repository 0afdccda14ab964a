-- Job output is stored as the raw bytes the program wrote (not decoded text).
ALTER TABLE job_output ADD COLUMN chunk_bytes BLOB NOT NULL DEFAULT x'';
UPDATE job_output SET chunk_bytes = CAST(chunk AS BLOB);
ALTER TABLE job_output DROP COLUMN chunk;
ALTER TABLE job_output RENAME COLUMN chunk_bytes TO chunk;
