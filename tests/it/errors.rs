//! Errors keep their causes: `std::error::Error::source` reaches the I/O, parser or driver
//! error underneath, so an application can log the whole chain or downcast to it.

use std::error::Error as _;
use std::path::Path;

use rowguard::seed::{Seed, SeedError};
use rowguard::sync::{self, SyncError};
use rowguard::{Config, ConfigError, DatabaseUrl, DbError};

fn source_is<E: std::error::Error + 'static>(err: &dyn std::error::Error) -> bool {
    err.source()
        .is_some_and(|s| s.downcast_ref::<E>().is_some())
}

#[test]
fn io_and_parser_errors_are_sources() {
    let missing = Path::new("/nonexistent/rowguard.toml");
    let err = Config::from_file(missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(source_is::<std::io::Error>(&err));

    let err = Config::from_toml_str("cache_size = \"many\"").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    assert!(err.source().is_some());

    let err = Seed::parse(vec![("a.json".into(), r#"{"roles": 1}"#.into())]).unwrap_err();
    assert!(matches!(err, SeedError::Json { .. }), "{err:?}");
    assert!(source_is::<serde_json::Error>(&err));
    assert!(err.to_string().starts_with("a.json: "), "{err}");

    let err = rowguard::seed::load_dir(Path::new("/nonexistent/seeds")).unwrap_err();
    assert!(source_is::<std::io::Error>(&err));

    let dir = std::env::temp_dir().join(format!("rowguard-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.rs"), "fn oops( {").unwrap();
    let err = sync::scan(std::slice::from_ref(&dir), false).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(err, SyncError::Parse { line: 1, .. }), "{err:?}");
    assert!(source_is::<syn::Error>(&err));

    let err = DatabaseUrl::parse("postgres://[::1").unwrap_err();
    assert!(matches!(err, DbError::MalformedUrl { .. }), "{err:?}");
    assert!(source_is::<url::ParseError>(&err));
}

#[test]
fn a_refused_connection_keeps_the_driver_error() {
    // Port 1 on loopback: nothing listens there.
    let url = DatabaseUrl::parse("postgres://nobody@127.0.0.1:1/none").unwrap();
    let Err(err) = rowguard::establish(&url) else {
        panic!("connected to port 1");
    };
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");
    assert!(source_is::<diesel::ConnectionError>(&err));
}
