-- Rule documents are TEXT here already, without a length limit (MySQL needed LONGTEXT).
SELECT 1;
