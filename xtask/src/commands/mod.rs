//! The xtask's own commands (rowguard's come from `rowguard_cli`).

pub mod demo;
pub mod differential;
pub mod load_test;
pub mod test;

pub use rowguard_cli::CommandResult;
