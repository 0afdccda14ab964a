-- A rule document may be longer than TEXT's 64 KiB (a list of 100,000 ids is about 700 KiB).
ALTER TABLE authorization_rules MODIFY rules LONGTEXT CHARACTER SET utf8mb4 NOT NULL;
