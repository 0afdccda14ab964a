//! Authorizable models: the [`Authorizable`] trait and the [`authorizable!`](crate::authorizable)
//! macro that implements it in one line.

use diesel::sql_types;

use crate::rules::{ColumnType, Columns, Row, SqlFilter, Value, ValueRef};

/// The rule type of a Diesel SQL type (`Nullable<T>` has `T`'s).
pub trait RuleType {
    /// The column type rules see.
    const TYPE: ColumnType;
}

macro_rules! rule_type {
    ($($sql:ty => $ty:ident),+ $(,)?) => {$(
        impl RuleType for $sql {
            const TYPE: ColumnType = ColumnType::$ty;
        }
    )+};
}

rule_type!(
    sql_types::SmallInt => Integer,
    sql_types::Integer => Integer,
    sql_types::BigInt => Bigint,
    sql_types::Float => Float,
    sql_types::Double => Float,
    sql_types::Text => Text,
    sql_types::Bool => Bool,
    sql_types::Date => Date,
    sql_types::Timestamp => Timestamp,
);

impl<T: RuleType + sql_types::SqlType> RuleType for sql_types::Nullable<T> {
    const TYPE: ColumnType = T::TYPE;
}

/// A Diesel model whose rows rowguard authorizes. Implement it with
/// [`authorizable!`](crate::authorizable); the Diesel calls it needs are generated there for
/// the concrete table, so rowguard's guard stays free of Diesel's generic bounds.
pub trait Authorizable: Sized + 'static {
    /// The stable model name stored in `authorizable_models.name` (default: the table name).
    const NAME: &'static str;
    /// The SQL table.
    const TABLE: &'static str;
    /// The primary key column (one of [`Authorizable::columns`]).
    const PRIMARY_KEY: &'static str;
    /// Rows are inserted through the guard and never updated or deleted through it (an
    /// audit table, such as the jobs'). Declared with `immutable` in
    /// [`authorizable!`](crate::authorizable).
    const IMMUTABLE: bool = false;
    /// How IAM-style policies name the model and its rows (`arn:rowguard:default:local:…`).
    /// Declared with `arn { … }` in [`authorizable!`](crate::authorizable).
    const ARN: crate::policy::ModelArn<&'static str> = crate::policy::ModelArn::DEFAULT;
    /// The columns rules may use, with their types.
    fn columns() -> &'static Columns;
    /// The value of the column at `index` of [`Authorizable::columns`], borrowed
    /// ([`ValueRef::Null`] past the last column).
    fn cell(&self, index: usize) -> ValueRef<'_>;
    /// This row's values of [`Authorizable::columns`], in order (copied).
    fn values(&self) -> Vec<Value> {
        (0..Self::columns().len())
            .map(|i| self.cell(i).to_value())
            .collect()
    }
    /// This row's primary key.
    fn key(&self) -> Value;
    /// Whether Diesel names the table exactly [`Authorizable::TABLE`] in a query's `FROM`
    /// (no schema, no `sql_name`): reads that hide columns rely on it, and refuse otherwise.
    /// [`authorizable!`](crate::authorizable) checks it; a hand-written impl must be right.
    #[doc(hidden)]
    fn __plain_table() -> bool {
        true
    }
}

/// The Diesel queries the guard runs for model `Self` on connection type `C`, in the
/// connection's own query types, so the guard needs no generic Diesel bounds.
/// [`authorizable!`](crate::authorizable) implements it for `PgConnection`,
/// `SqliteConnection`, `MysqlConnection` (feature `mysql`) and
/// [`AnyConnection`](crate::AnyConnection), or for the connection types listed with
/// `on [...]`.
///
/// **These are the guard's raw queries: they apply the filter they are given and nothing
/// else.** Calling them yourself bypasses every rule (hence the names); go through a
/// [`Guard`](crate::Guard). Implement the trait by hand only for a connection type of your
/// own, and then every method must apply `filter` exactly: the guard trusts it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no guard queries for connection type `{C}`",
    label = "declared with `rowguard::authorizable!`, for this connection type?",
    note = "authorizable! generates them for PgConnection, SqliteConnection, MysqlConnection (feature mysql) and rowguard::AnyConnection, or for the types listed with `on [...]`; a pooled connection runs its inner connection's"
)]
pub trait ModelQueries<C>: Authorizable {
    /// The table's boxed query on `C`'s backend (what [`Guard::read`](crate::Guard::read)
    /// wraps in a [`Scoped`](crate::Scoped)).
    type Query;

    /// `SELECT * FROM table WHERE filter`, boxed, for the application's own filters on top.
    fn unguarded_query(filter: SqlFilter) -> Self::Query;
    /// Loads the rows matching `filter`, in primary key order.
    fn unguarded_load(conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<Vec<Self>>;
    /// Loads the rows `mask` lets through (its filter on the real table; the columns it
    /// hides as NULL), in primary key order.
    fn unguarded_load_masked(
        conn: &mut C,
        mask: crate::guard::ReadMask,
    ) -> diesel::QueryResult<Vec<Self>>;
    /// Inserts this row.
    fn unguarded_insert(&self, conn: &mut C) -> diesel::QueryResult<usize>;
    /// Writes this row's columns to the rows matching `filter`.
    fn unguarded_update(&self, conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<usize>;
    /// Deletes the rows matching `filter`.
    fn unguarded_delete(conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<usize>;
}

/// A model's row is evaluated in place: its cells are borrowed, not copied.
///
/// ```
/// use rowguard::rules::{compile_document, Right};
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// # rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
/// use rowguard::Authorizable;
///
/// let rules = compile_document(r#"{"read":{"search":{"body":"starts_with Hi"}}}"#, Note::columns())?;
/// let note = Note { id: 1, owner_id: 7, body: "Hi there".into() };
/// assert!(rules.filter(Right::Read).unwrap().matches(&note));
/// # Ok::<(), rowguard::rules::RuleError>(())
/// ```
impl<M: Authorizable> Row for M {
    #[inline]
    fn value(&self, index: usize) -> ValueRef<'_> {
        self.cell(index)
    }
}

/// Whether the SQLite rendering `sql` of `SELECT pk FROM table` names the table exactly
/// `` `table` `` (what [`Authorizable::__plain_table`] checks).
#[doc(hidden)]
pub fn __from_is(sql: &str, table: &str) -> bool {
    let from = sql
        .split_once(" FROM ")
        .map(|(_, rest)| rest.split(" -- ").next().unwrap_or(rest).trim());
    from == Some(format!("`{table}`").as_str())
}

/// Whether `names` holds `name`, at compile time ([`authorizable!`](crate::authorizable)'s
/// primary key check).
#[doc(hidden)]
pub const fn __lists(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// `arn { … }` of [`authorizable!`]: the declared parts applied to `ModelArn::DEFAULT`.
#[doc(hidden)]
#[macro_export]
macro_rules! __arn {
    ($acc:expr;) => { $acc };
    ($acc:expr; partition : $v:literal $(, $($rest:tt)*)?) => {
        $crate::__arn!($crate::policy::ModelArn::with_partition($acc, $v); $($($rest)*)?)
    };
    ($acc:expr; service : $v:literal $(, $($rest:tt)*)?) => {
        $crate::__arn!($crate::policy::ModelArn::with_service($acc, $v); $($($rest)*)?)
    };
    ($acc:expr; region : $v:literal $(, $($rest:tt)*)?) => {
        $crate::__arn!($crate::policy::ModelArn::with_region($acc, $v); $($($rest)*)?)
    };
    ($acc:expr; account : $v:literal $(, $($rest:tt)*)?) => {
        $crate::__arn!($crate::policy::ModelArn::with_account($acc, $v); $($($rest)*)?)
    };
    ($acc:expr; account : $v:ident $(, $($rest:tt)*)?) => {
        $crate::__arn!($crate::policy::ModelArn::with_account_column($acc, ::core::stringify!($v)); $($($rest)*)?)
    };
    ($acc:expr; $($other:tt)*) => {
        ::core::compile_error!("authorizable!: arn { … } takes partition: \"…\", service: \"…\", region: \"…\" and account: column or \"…\"")
    };
}

/// Declares a Diesel model authorizable, in one line:
///
/// `authorizable!(Model => table_module(primary_key) { columns rules may use… });`
/// optionally followed by, in any order and separated by commas:
/// - `as "stable_name"` (default: the table name);
/// - `immutable`, for a table whose rows the guard only inserts (updates and deletes through
///   the guard are refused with [`Error::Immutable`](crate::Error::Immutable));
/// - `on [Connection, …]`: the connection types to generate the guard's queries
///   ([`ModelQueries`]) for. Default: `PgConnection`, `SqliteConnection`, `MysqlConnection`
///   (feature `mysql`) and [`AnyConnection`](crate::AnyConnection). List only yours when a
///   column has a type one backend alone knows (PostgreSQL's `Timestamptz`, `Uuid`, `Jsonb`):
///   every listed type must load and write every column. With the default list, the
///   `AnyConnection` queries run their loads and writes on the backend's own connection
///   (rendered once, without `MultiConnection`'s extra renders); an `AnyConnection` named in
///   `on [...]` gets the plain `MultiConnection` path, which is correct but slower.
/// - `relations { name: belongs_to parents(foreign_key), name: has_many children(foreign_key) }`:
///   relations rules may reach through (README: *Relations*), beside the ones `sync-models`
///   derives from `diesel::joinable!` (a belongs-to named after the foreign key without `_id`,
///   a has-many named after the child table). An entry with the name or the columns of a
///   derived one replaces it (a rename). A belongs-to may end in `check RIGHT` (the right the
///   subject needs on the parent a written row points at; default `read`) or `check none`.
///   The macro checks the tables and columns exist; `sync-models` stores the relations.
/// - `arn { partition: "…", service: "…", region: "…", account: column }` (each optional):
///   how IAM-style policies name the model (`arn:rowguard:default:local:<account>:<name>`) and
///   its rows (`…:<name>/<primary key>`); README: *IAM-style policies*. `account: team_id`
///   takes each row's account from that column (one of the listed columns, checked at compile
///   time), `account: "shared"` names one fixed account. Defaults: `rowguard`, `default`,
///   `local`, account `default`.
///
/// ```
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, team_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, team_id: i64, body: String }
/// use rowguard::policy::{ArnAccount, ModelArn};
/// use rowguard::Authorizable;
///
/// rowguard::authorizable!(Note => notes(id) { id, team_id, body } arn { service: "crm", account: team_id });
/// assert_eq!(Note::ARN, ModelArn::DEFAULT.with_service("crm").with_account_column("team_id"));
/// ```
///
/// An account column that is not listed does not compile:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, team_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, team_id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { id, body } arn { account: team_id });
/// ```
///
/// Nor does a key given twice:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, team_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, team_id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { id, team_id, body } arn { account: team_id, account: "shared" });
/// ```
///
/// The model derives `Queryable` (all columns, table order), `Insertable` and `AsChangeset`
/// for the table; rule types come from the `table!` SQL types.
///
/// An unknown option is a compile error naming it (here `frozen`):
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { id, body } frozen);
/// ```
///
/// So is a primary key missing from the columns:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { body });
/// ```
///
/// The same declaration with a known option compiles:
///
/// ```
/// # use diesel::prelude::*;
/// # diesel::table! { notes (id) { id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { id, body } immutable, as "notes");
/// ```
///
/// Relations (checked against the Diesel schema at compile time):
///
/// ```
/// # use diesel::prelude::*;
/// diesel::table! { contact_types (id) { id -> BigInt, name -> Text } }
/// diesel::table! { contacts (id) { id -> BigInt, kind_id -> BigInt } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = contact_types)]
/// # struct ContactType { id: i64, name: String }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = contacts)]
/// # struct Contact { id: i64, kind_id: i64 }
/// rowguard::authorizable!(ContactType => contact_types(id) { id, name } relations {
///     contacts: has_many contacts(kind_id),
/// });
/// rowguard::authorizable!(Contact => contacts(id) { id, kind_id } relations {
///     contact_type: belongs_to contact_types(kind_id) check update,
/// });
/// ```
///
/// A relation on a column the table does not have does not compile:
///
/// ```compile_fail
/// # use diesel::prelude::*;
/// # diesel::table! { contact_types (id) { id -> BigInt, name -> Text } }
/// # diesel::table! { contacts (id) { id -> BigInt, kind_id -> BigInt } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = contacts)]
/// # struct Contact { id: i64, kind_id: i64 }
/// rowguard::authorizable!(Contact => contacts(id) { id, kind_id } relations {
///     contact_type: belongs_to contact_types(type_id),
/// });
/// ```
///
/// A PostgreSQL-only table:
///
/// ```
/// use diesel::prelude::*;
/// use rowguard::Authorizable;
///
/// diesel::table! {
///     events (id) { id -> BigInt, owner_id -> BigInt, at -> Timestamptz }
/// }
///
/// #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// #[diesel(table_name = events)]
/// struct Event { id: i64, owner_id: i64, at: chrono::DateTime<chrono::Utc> }
///
/// rowguard::authorizable!(Event => events(id) { id, owner_id } as "events", on [PgConnection]);
/// assert_eq!(Event::NAME, "events");
/// ```
///
/// ```
/// use diesel::prelude::*;
/// use rowguard::{authorizable, Authorizable, rules::ColumnType};
///
/// diesel::table! {
///     notes (id) {
///         id -> BigInt,
///         owner_id -> BigInt,
///         body -> Text,
///     }
/// }
///
/// #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// #[diesel(table_name = notes)]
/// struct Note {
///     id: i64,
///     owner_id: i64,
///     body: String,
/// }
///
/// authorizable!(Note => notes(id) { id, owner_id });
///
/// assert_eq!(Note::NAME, "notes");
/// assert_eq!(Note::columns().get("owner_id"), Some((1, ColumnType::Bigint)));
/// ```
#[macro_export]
macro_rules! authorizable {
    // The options after the columns, one at a time: `as "name"`, `immutable`,
    // `on [Connection, …]`, separated by commas.
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] as $new:literal $(, $($rest:tt)*)?) => {
        $crate::authorizable!(@opts $head [$new] [$arn] [$imm] [$($conn),*] $($($rest)*)?);
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] immutable $(, $($rest:tt)*)?) => {
        $crate::authorizable!(@opts $head [$name] [$arn] [true] [$($conn),*] $($($rest)*)?);
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] on [$($new:ty),+ $(,)?] $(, $($rest:tt)*)?) => {
        $crate::authorizable!(@opts $head [$name] [$arn] [$imm] [$($new),+] $($($rest)*)?);
    };
    (@opts ($model:ty, $table:ident, $pk:ident, [$($col:ident),+]) [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*]
        relations { $($rel:ident : $kind:ident $target:ident ($rcol:ident) $(check $right:ident)?),* $(,)? }
        $(, $($rest:tt)*)?) => {
        // Stored by sync-models; here only checked, so a typo is a compile error.
        const _: () = {
            #[allow(dead_code)]
            fn relations_name_real_columns() {
                $($crate::__relation_check!($kind $table $target $rcol $(check $right)?);)*
            }
        };
        $crate::authorizable!(@opts ($model, $table, $pk, [$($col),+]) [$name] [$arn] [$imm] [$($conn),*] $($($rest)*)?);
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*]
        arn { $($key:ident : $value:tt),* $(,)? } $(, $($rest:tt)*)?) => {
        // A key given twice is a compile error ("field specified more than once"), not the
        // last one silently kept.
        const _: () = {
            #[allow(dead_code)]
            struct ArnKeys { partition: (), service: (), region: (), account: () }
            const NONE: ArnKeys = ArnKeys { partition: (), service: (), region: (), account: () };
            let _ = ArnKeys { $($key: (),)* ..NONE };
        };
        $crate::authorizable!(@opts $head [$name] [$crate::__arn!($arn; $($key : $value),*)] [$imm] [$($conn),*] $($($rest)*)?);
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] on [] $($rest:tt)*) => {
        ::core::compile_error!("authorizable!: `on [...]` needs at least one connection type");
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] as $other:tt $($rest:tt)*) => {
        ::core::compile_error!(
            "authorizable!: `as` takes a string literal (the stable name sync-models stores)"
        );
    };
    (@opts ($model:ty, $table:ident, $pk:ident, [$($col:ident),+]) [$name:expr] [$arn:expr] [$imm:tt] []) => {
        $crate::authorizable!(@impl $model => $table ($pk) { $($col),+ } as $name, $arn, $imm);
        $crate::__model_queries_for_each_connection!($model => $table ($pk));
    };
    (@opts ($model:ty, $table:ident, $pk:ident, [$($col:ident),+]) [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),+]) => {
        $crate::authorizable!(@impl $model => $table ($pk) { $($col),+ } as $name, $arn, $imm);
        $($crate::__model_queries!($conn; $model => $table ($pk));)+
    };
    (@opts $head:tt [$name:expr] [$arn:expr] [$imm:tt] [$($conn:ty),*] $other:tt $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "authorizable!: unknown option `",
            ::core::stringify!($other),
            "`: expected `as \"name\"`, `immutable`, `on [Connection, …]`, `relations { … }` or `arn { … }`, separated by commas"
        ));
    };
    (@impl $model:ty => $table:ident ($pk:ident) { $($col:ident),+ } as $name:expr, $arn:expr, $immutable:expr) => {
        const _: () = ::core::assert!(
            $crate::model::__lists(&[$(::core::stringify!($col)),+], ::core::stringify!($pk)),
            "authorizable!: list the primary key among the columns"
        );
        const _: () = ::core::assert!(
            {
                let account = $crate::policy::ModelArn::account_column(&$arn);
                account.is_empty() || $crate::model::__lists(&[$(::core::stringify!($col)),+], account)
            },
            "authorizable!: the arn account column must be one of the columns"
        );

        impl $crate::Authorizable for $model {
            const NAME: &'static str = $name;
            const IMMUTABLE: bool = $immutable;
            const ARN: $crate::policy::ModelArn<&'static str> = $arn;
            const TABLE: &'static str = ::core::stringify!($table);
            const PRIMARY_KEY: &'static str = ::core::stringify!($pk);

            fn columns() -> &'static $crate::rules::Columns {
                static COLUMNS: ::std::sync::OnceLock<$crate::rules::Columns> =
                    ::std::sync::OnceLock::new();
                COLUMNS.get_or_init(|| {
                    let columns = $crate::rules::Columns::new([$(
                        (
                            ::core::stringify!($col),
                            <<$table::$col as $crate::__diesel::Expression>::SqlType
                                as $crate::model::RuleType>::TYPE,
                        )
                    ),+])
                    .expect("authorizable!: column names are identifiers, each listed once");
                    assert!(
                        columns.get(::core::stringify!($pk)).is_some(),
                        "authorizable!: list the primary key among the columns"
                    );
                    columns
                })
            }

            // The last `i += 1` is never read; the chain compiles to a jump table.
            #[allow(unused_assignments)]
            fn cell(&self, index: usize) -> $crate::rules::ValueRef<'_> {
                let mut i = 0usize;
                $(
                    if index == i {
                        return $crate::rules::AsValueRef::as_value_ref(&self.$col);
                    }
                    i += 1;
                )+
                $crate::rules::ValueRef::Null
            }

            fn key(&self) -> $crate::rules::Value {
                $crate::rules::Value::from(::core::clone::Clone::clone(&self.$pk))
            }

            fn __plain_table() -> bool {
                static PLAIN: ::std::sync::OnceLock<bool> = ::std::sync::OnceLock::new();
                *PLAIN.get_or_init(|| {
                    use $crate::__diesel::prelude::*;
                    let query = $table::table.select($table::$pk);
                    let sql = $crate::__diesel::debug_query::<$crate::__diesel::sqlite::Sqlite, _>(
                        &query,
                    )
                    .to_string();
                    $crate::model::__from_is(&sql, ::core::stringify!($table))
                })
            }
        }
    };
    ($model:ty => $table:ident ($pk:ident) { $($col:ident),+ $(,)? } $($opt:tt)*) => {
        $crate::authorizable!(
            @opts ($model, $table, $pk, [$($col),+]) [::core::stringify!($table)] [$crate::policy::ModelArn::DEFAULT] [false] []
            $($opt)*
        );
    };
}

/// The guard's queries of one model on one connection type (used by
/// [`authorizable!`](crate::authorizable)).
/// Checks one `relations { … }` entry of [`authorizable!`] against the Diesel schema.
#[doc(hidden)]
#[macro_export]
macro_rules! __relation_check {
    (belongs_to $table:ident $target:ident $col:ident $(check $right:ident)?) => {
        let _ = ($table::$col, $target::table);
        $($crate::__relation_check!(@right $right);)?
    };
    (has_many $table:ident $target:ident $col:ident) => {
        let _ = ($table::table, $target::$col);
    };
    (has_many $table:ident $target:ident $col:ident check $right:ident) => {
        ::core::compile_error!("authorizable!: `check` applies to belongs_to relations only");
    };
    (@right create) => {};
    (@right read) => {};
    (@right update) => {};
    (@right delete) => {};
    (@right none) => {};
    (@right $other:ident) => {
        ::core::compile_error!(::core::concat!(
            "authorizable!: `check ", ::core::stringify!($other),
            "`: expected create, read, update, delete or none"
        ));
    };
    ($kind:ident $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "authorizable!: relation kind `", ::core::stringify!($kind),
            "`: expected belongs_to or has_many"
        ));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __model_queries {
    // `AnyConnection`: loads and writes run on the backend's own connection. Diesel's
    // `MultiConnection` layer renders a statement's SQL again on each of its walks, which a
    // statement keyed by its SQL text (every guarded one) pays on each call.
    (any $model:ty => $table:ident ($pk:ident)) => {
        impl $crate::ModelQueries<$crate::AnyConnection> for $model {
            $crate::__model_queries!(@shared $crate::AnyConnection; $table ($pk));

            fn unguarded_load(
                conn: &mut $crate::AnyConnection,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<::std::vec::Vec<Self>> {
                $crate::__on_native!(conn, c => <Self as $crate::ModelQueries<_>>::unguarded_load(c, filter))
            }

            fn unguarded_insert(
                &self,
                conn: &mut $crate::AnyConnection,
            ) -> $crate::__diesel::QueryResult<usize> {
                $crate::__on_native!(conn, c => $crate::ModelQueries::<_>::unguarded_insert(self, c))
            }

            fn unguarded_update(
                &self,
                conn: &mut $crate::AnyConnection,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<usize> {
                $crate::__on_native!(conn, c => $crate::ModelQueries::<_>::unguarded_update(self, c, filter))
            }

            fn unguarded_delete(
                conn: &mut $crate::AnyConnection,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<usize> {
                $crate::__on_native!(conn, c => <Self as $crate::ModelQueries<_>>::unguarded_delete(c, filter))
            }
        }
    };
    // What every connection type's implementation shares: the boxed query and masked loads
    // (their SQL is built for the connection's own backend, `MultiBackend` included).
    (@shared $conn:ty; $table:ident ($pk:ident)) => {
        type Query =
            $table::BoxedQuery<'static, <$conn as $crate::__diesel::Connection>::Backend>;

        fn unguarded_query(filter: $crate::rules::SqlFilter) -> Self::Query {
            use $crate::__diesel::prelude::*;
            $table::table.into_boxed().filter(filter)
        }

        fn unguarded_load_masked(
            conn: &mut $conn,
            mask: $crate::ReadMask,
        ) -> $crate::__diesel::QueryResult<::std::vec::Vec<Self>> {
            use $crate::__diesel::prelude::*;
            $crate::__diesel::RunQueryDsl::load(
                $crate::Masked::new(Some(mask), $table::table.order($table::$pk)),
                conn,
            )
        }
    };
    ($conn:ty; $model:ty => $table:ident ($pk:ident)) => {
        impl $crate::ModelQueries<$conn> for $model {
            $crate::__model_queries!(@shared $conn; $table ($pk));

            fn unguarded_load(
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<::std::vec::Vec<Self>> {
                use $crate::__diesel::prelude::*;
                $table::table
                    .filter(filter)
                    .order($table::$pk)
                    .load::<Self>(conn)
            }

            fn unguarded_insert(&self, conn: &mut $conn) -> $crate::__diesel::QueryResult<usize> {
                use $crate::__diesel::prelude::*;
                $crate::__diesel::insert_into($table::table)
                    .values(self)
                    .execute(conn)
            }

            fn unguarded_update(
                &self,
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<usize> {
                // The changeset must be the table's, as `diesel::update(table).set(row)` checks.
                fn changeset<T>(row: T) -> T::Changeset
                where
                    T: $crate::__diesel::AsChangeset<Target = $table::table>,
                {
                    row.as_changeset()
                }
                let from = $crate::__diesel::QuerySource::from_clause(&$table::table);
                $crate::__diesel::RunQueryDsl::execute(
                    $crate::db::KeptUpdate::new(from, changeset(self), filter),
                    conn,
                )
            }

            fn unguarded_delete(
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> $crate::__diesel::QueryResult<usize> {
                use $crate::__diesel::prelude::*;
                $crate::__diesel::delete($table::table.filter(filter)).execute(conn)
            }
        }
    };
}

/// [`__model_queries`] for each connection type this build of rowguard supports.
#[doc(hidden)]
#[macro_export]
macro_rules! __model_queries_for_each_connection {
    ($($model:tt)*) => {
        $crate::__model_queries!($crate::__diesel::PgConnection; $($model)*);
        $crate::__model_queries!($crate::__diesel::SqliteConnection; $($model)*);
        $crate::__model_queries!(any $($model)*);
        $crate::__if_mysql! {
            $crate::__model_queries!($crate::__diesel::MysqlConnection; $($model)*);
        }
    };
}

/// Its tokens when rowguard is built with `mysql`, else nothing: a `#[cfg(feature = …)]`
/// inside a macro's expansion would test the *caller's* feature, not rowguard's.
#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// Its tokens when rowguard is built with `mysql`, else nothing.
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($tokens:tt)*) => {};
}

/// Runs `$body` with `$c` bound to the backend's own connection inside an
/// [`AnyConnection`](crate::AnyConnection) (each arm is compiled for its connection type).
#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __on_native {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgres($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
            $crate::AnyConnection::Mysql($c) => $body,
        }
    };
}

/// [`__on_native`] without MySQL.
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __on_native {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgres($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
        }
    };
}
