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
}

/// The Diesel queries the guard runs for model `Self` on connection type `C`.
/// [`authorizable!`](crate::authorizable) implements it for every
/// [`GuardConnection`](crate::GuardConnection) rowguard knows (`PgConnection`,
/// `SqliteConnection`, `MysqlConnection` with feature `mysql`, [`AnyConnection`](crate::AnyConnection)), each with
/// the concrete connection's own query types, so the guard needs no generic Diesel bounds.
/// Implement it by hand only for a connection type of your own.
///
/// ```
/// use diesel::prelude::*;
/// use rowguard::{Filter, ModelQueries, SqlFilter};
/// # diesel::table! { notes (id) { id -> BigInt, owner_id -> BigInt, body -> Text } }
/// # #[derive(Queryable, Insertable, AsChangeset, Clone)]
/// # #[diesel(table_name = notes)]
/// # struct Note { id: i64, owner_id: i64, body: String }
/// rowguard::authorizable!(Note => notes(id) { id, owner_id, body });
///
/// let mut conn = SqliteConnection::establish(":memory:")?;
/// diesel::sql_query("CREATE TABLE notes (id BIGINT PRIMARY KEY, owner_id BIGINT, body TEXT)")
///     .execute(&mut conn)?;
/// let note = Note { id: 1, owner_id: 7, body: "hi".into() };
/// assert_eq!(note.insert_row(&mut conn)?, 1);
/// let rows = <Note as ModelQueries<SqliteConnection>>::load_where(&mut conn, SqlFilter::new(None, Filter::True))?;
/// assert_eq!(rows.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no guard queries for connection type `{C}`",
    label = "declared with `rowguard::authorizable!`?",
    note = "a guard runs on PgConnection, SqliteConnection, MysqlConnection or rowguard::AnyConnection (or a pooled one of them)"
)]
pub trait ModelQueries<C>: Authorizable {
    /// The table's boxed query on `C`'s backend (what [`Guard::read`](crate::Guard::read)
    /// wraps in a [`Scoped`](crate::Scoped)).
    type Query;

    /// `SELECT * FROM table WHERE filter`, boxed, for the application's own filters on top.
    fn boxed_query(filter: SqlFilter) -> Self::Query;
    /// Loads the rows matching `filter`, in primary key order.
    fn load_where(conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<Vec<Self>>;
    /// Inserts this row.
    fn insert_row(&self, conn: &mut C) -> diesel::QueryResult<usize>;
    /// Writes this row's columns to the rows matching `filter`.
    fn update_where(&self, conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<usize>;
    /// Deletes the rows matching `filter`.
    fn delete_where(conn: &mut C, filter: SqlFilter) -> diesel::QueryResult<usize>;
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

/// Declares a Diesel model authorizable, in one line:
///
/// `authorizable!(Model => table_module(primary_key) { columns rules may use… });`
/// optionally followed by `as "stable_name"` (default: the table name), and then by
/// `, immutable` for a table whose rows the guard only inserts (updates and deletes through
/// the guard are refused with [`Error::Immutable`](crate::Error::Immutable)).
///
/// The model derives `Queryable` (all columns, table order), `Insertable` and `AsChangeset`
/// for the table; rule types come from the `table!` SQL types. The guard's queries
/// ([`ModelQueries`]) are generated for every connection type rowguard supports.
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
    ($model:ty => $table:ident ($pk:ident) { $($col:ident),+ $(,)? }) => {
        $crate::authorizable!($model => $table ($pk) { $($col),+ } as ::core::stringify!($table));
    };
    ($model:ty => $table:ident ($pk:ident) { $($col:ident),+ $(,)? } as $name:expr, immutable) => {
        $crate::authorizable!(@impl $model => $table ($pk) { $($col),+ } as $name, true);
    };
    ($model:ty => $table:ident ($pk:ident) { $($col:ident),+ $(,)? } as $name:expr) => {
        $crate::authorizable!(@impl $model => $table ($pk) { $($col),+ } as $name, false);
    };
    (@impl $model:ty => $table:ident ($pk:ident) { $($col:ident),+ } as $name:expr, $immutable:expr) => {
        impl $crate::Authorizable for $model {
            const NAME: &'static str = $name;
            const IMMUTABLE: bool = $immutable;
            const TABLE: &'static str = ::core::stringify!($table);
            const PRIMARY_KEY: &'static str = ::core::stringify!($pk);

            fn columns() -> &'static $crate::rules::Columns {
                static COLUMNS: ::std::sync::OnceLock<$crate::rules::Columns> =
                    ::std::sync::OnceLock::new();
                COLUMNS.get_or_init(|| {
                    let columns = $crate::rules::Columns::new([$(
                        (
                            ::core::stringify!($col),
                            <<$table::$col as ::diesel::Expression>::SqlType
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
        }

        $crate::__model_queries_for_each_connection!($model => $table ($pk));
    };
}

/// The guard's queries of one model on one connection type (used by
/// [`authorizable!`](crate::authorizable)).
#[doc(hidden)]
#[macro_export]
macro_rules! __model_queries {
    ($conn:ty, $backend:ty; $model:ty => $table:ident ($pk:ident)) => {
        impl $crate::ModelQueries<$conn> for $model {
            type Query = $table::BoxedQuery<'static, $backend>;

            fn boxed_query(filter: $crate::rules::SqlFilter) -> Self::Query {
                use ::diesel::prelude::*;
                $table::table.into_boxed().filter(filter)
            }

            fn load_where(
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> ::diesel::QueryResult<::std::vec::Vec<Self>> {
                use ::diesel::prelude::*;
                $table::table
                    .filter(filter)
                    .order($table::$pk)
                    .load::<Self>(conn)
            }

            fn insert_row(&self, conn: &mut $conn) -> ::diesel::QueryResult<usize> {
                use ::diesel::prelude::*;
                ::diesel::insert_into($table::table)
                    .values(self)
                    .execute(conn)
            }

            fn update_where(
                &self,
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> ::diesel::QueryResult<usize> {
                use ::diesel::prelude::*;
                ::diesel::update($table::table.filter(filter))
                    .set(self)
                    .execute(conn)
            }

            fn delete_where(
                conn: &mut $conn,
                filter: $crate::rules::SqlFilter,
            ) -> ::diesel::QueryResult<usize> {
                use ::diesel::prelude::*;
                ::diesel::delete($table::table.filter(filter)).execute(conn)
            }
        }
    };
}

/// [`__model_queries`] for each connection type this build of rowguard supports (the
/// `mysql` feature is rowguard's, so the list is chosen here, not in the caller's crate).
#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __model_queries_for_each_connection {
    ($($model:tt)*) => {
        $crate::__model_queries!(::diesel::PgConnection, ::diesel::pg::Pg; $($model)*);
        $crate::__model_queries!(::diesel::SqliteConnection, ::diesel::sqlite::Sqlite; $($model)*);
        $crate::__model_queries!(::diesel::MysqlConnection, ::diesel::mysql::Mysql; $($model)*);
        $crate::__model_queries!($crate::AnyConnection, $crate::db::MultiBackend; $($model)*);
    };
}

/// [`__model_queries`] for each connection type this build of rowguard supports.
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __model_queries_for_each_connection {
    ($($model:tt)*) => {
        $crate::__model_queries!(::diesel::PgConnection, ::diesel::pg::Pg; $($model)*);
        $crate::__model_queries!(::diesel::SqliteConnection, ::diesel::sqlite::Sqlite; $($model)*);
        $crate::__model_queries!($crate::AnyConnection, $crate::db::MultiBackend; $($model)*);
    };
}
