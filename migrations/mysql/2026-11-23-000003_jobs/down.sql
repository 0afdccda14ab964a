DROP TABLE job_output;
DROP TABLE job_executions;
