DROP TABLE authorization_decisions;
