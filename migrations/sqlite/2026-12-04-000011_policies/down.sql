DROP TABLE authorization_policies;
