//! The contacts application on a test database: a pool, its tables and samples, and an
//! authorizer with the models registered.

use rowguard::testing::TestDatabase;
use rowguard::{AnyConnection, Authorizer, Config, Guard, Pool, PoolOptions};

use crate::app::{self, contacts, Contact, ContactType};

/// A pool of `max_size` on `db`, the contacts tables with their samples, and an authorizer
/// with `config` that has registered both models.
pub fn contacts(db: &TestDatabase, config: Config, max_size: u32) -> (Pool, Authorizer) {
    let pool = db
        .pool(PoolOptions {
            max_size,
            ..PoolOptions::default()
        })
        .expect("pool");
    let mut conn = pool.get().expect("conn");
    app::create_tables(&mut conn).expect("tables");
    app::insert_samples(&mut conn).expect("samples");
    let auth = Authorizer::new(config);
    auth.register::<Contact>(&mut conn).expect("register");
    auth.register::<ContactType>(&mut conn).expect("register");
    (pool, auth)
}

/// The ids of the contacts `guard` may read, ascending.
pub fn visible(guard: &Guard, conn: &mut AnyConnection) -> Vec<i64> {
    guard
        .read::<Contact>(conn)
        .expect("read query")
        .select(contacts::id)
        .order(contacts::id)
        .load(conn)
        .expect("load")
}
