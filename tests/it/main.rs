//! Integration tests. Every behaviour test runs once per backend (`…::on_sqlite`,
//! `…::on_postgres`, `…::on_mysql`), each on its own fresh database.

#[path = "../../examples/contacts/app.rs"]
mod app;
#[path = "../../examples/axum_service/service.rs"]
#[allow(dead_code)]
mod axum_service;
mod caches;
mod columns;
mod connect;
mod connections;
mod decisions;
#[path = "../../examples/contacts/demo.rs"]
#[allow(dead_code)]
mod demo;
mod denies;
mod errors;
mod fixture;
mod foundation;
mod guard;
mod history;
mod jobs;
mod model_props;
mod policies;
mod policy_props;
mod relations;
mod relations_props;
mod rules_by_name;
mod rules_props;
mod rules_sql;
mod samples;
mod seed_sync;
mod threats;
mod triggers;
mod write_paths;
