-- Job output is stored as the raw bytes the program wrote (not decoded text).
ALTER TABLE job_output MODIFY chunk LONGBLOB NOT NULL;
