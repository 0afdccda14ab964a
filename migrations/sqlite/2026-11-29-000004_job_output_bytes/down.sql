ALTER TABLE job_output ADD COLUMN chunk_text TEXT NOT NULL DEFAULT '';
UPDATE job_output SET chunk_text = CAST(chunk AS TEXT);
ALTER TABLE job_output DROP COLUMN chunk;
ALTER TABLE job_output RENAME COLUMN chunk_text TO chunk;
