//! Users of the service: names, argon2id password hashes, locks and RBAC roles.
//!
//! A user's subject is the one every rule and permission already speaks of: set `roles` =
//! their roles (inheritance applied by RBAC), set `id` = their name, attribute `id` = their
//! name.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rowguard::{AnyConnection, Subject};

use crate::tokens::user_tokens;

diesel::table! {
    /// Users of the service.
    users (name) {
        /// The user's name (also their subject's `id`).
        name -> Text,
        /// argon2id, PHC string format.
        password_hash -> Text,
        /// A locked user cannot log in.
        locked -> Bool,
        /// Bumped by a password change or a lock: revokes every token issued before.
        token_epoch -> BigInt,
        /// When the user was added (UTC).
        created_at -> Timestamp,
        /// Last change (UTC).
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// A user's RBAC roles, by name.
    user_roles (user_name, role) {
        /// The user.
        user_name -> Text,
        /// An RBAC role's name.
        role -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, user_roles);

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Errors of user management.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// A user name must be 1–64 letters, digits, `.`, `_`, `-` or `@`.
    #[error("user name {name:?}: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The password is too short or too long (it is never shown).
    #[error("password: {0}")]
    BadPassword(String),
    /// `users add` for a name that exists.
    #[error("user \"{0}\" exists already")]
    Exists(String),
    /// No user of that name.
    #[error("no user named \"{0}\"")]
    Unknown(String),
    /// A role that the RBAC tables do not define.
    #[error("no role named \"{role}\" (roles: {known})")]
    UnknownRole {
        /// The role given.
        role: String,
        /// The roles that exist.
        known: String,
    },
    /// Hashing failed (out of memory, say).
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The RBAC model could not be loaded.
    #[error(transparent)]
    Rbac(#[from] rowguard::rbac::RbacLoadError),
    /// The database.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// A user as `users list` and `GET /api/me` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The name.
    pub name: String,
    /// Locked users cannot log in and their tokens are revoked.
    pub locked: bool,
    /// Roles given to the user directly.
    pub roles: Vec<String>,
    /// Unexpired tokens.
    pub active_tokens: i64,
    /// When the user was added.
    pub created_at: NaiveDateTime,
    /// Last change of password, lock or roles.
    pub updated_at: NaiveDateTime,
}

/// Checks a user name: 1–64 characters of `A–Z a–z 0–9 . _ - @`, not starting with `-`.
///
/// ```
/// assert!(rowguard_server::users::validate_name("ann.lee@example").is_ok());
/// assert!(rowguard_server::users::validate_name("ann lee").is_err());
/// assert!(rowguard_server::users::validate_name("-ann").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), UserError> {
    let bad = |why| {
        Err(UserError::BadName {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("must be 1 to 64 characters");
    }
    if name.starts_with('-') {
        return bad("may not start with '-'");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return bad("may hold only letters, digits, '.', '_', '-' and '@'");
    }
    Ok(())
}

fn validate_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::BadPassword(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::BadPassword(format!(
            "must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A password that passed the rules and is hashed: made before a connection is taken, so that
/// the slow hash never holds one.
///
/// ```
/// use rowguard_server::users::NewPassword;
/// assert!(NewPassword::new("correct horse battery").is_ok());
/// assert!(NewPassword::new("short").unwrap_err().to_string().contains("at least 10"));
/// ```
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

impl NewPassword {
    /// Checks `password` (10 characters to 1 KiB) and hashes it with argon2id.
    pub fn new(password: &str) -> Result<Self, UserError> {
        validate_password(password)?;
        Ok(Self(hash_password(password)?))
    }
}

/// An argon2id hash (PHC string, random 16-byte salt, the crate's default cost) of `password`.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UserError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    // Whole seconds: stored times compare as text on SQLite, one format for all.
    now - chrono::Duration::nanoseconds(i64::from(now.and_utc().timestamp_subsec_nanos()))
}

fn check_roles(conn: &mut AnyConnection, roles: &[String]) -> Result<(), UserError> {
    let graph = rowguard::rbac::load(conn)?;
    if let Some(role) = roles.iter().find(|r| !graph.roles().contains_key(*r)) {
        return Err(UserError::UnknownRole {
            role: role.clone(),
            known: graph.roles().keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(())
}

mod sql {
    diesel::define_sql_function! {
        /// SQL's `lower()`.
        fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
    }
}
use sql::lower;

/// The user whose name equals `name` ignoring case, if any: names are unique that way, so
/// that `Ann` and `ann` cannot both exist (rules compare names as the database does, which
/// on MariaDB ignores case).
fn existing(conn: &mut AnyConnection, name: &str) -> Result<Option<String>, UserError> {
    Ok(users::table
        .filter(lower(users::name).eq(name.to_ascii_lowercase()))
        .select(users::name)
        .first::<String>(conn)
        .optional()?)
}

/// Adds user `name` with `password` and `roles` (each must be an RBAC role), in one
/// transaction.
pub fn add(
    conn: &mut AnyConnection,
    name: &str,
    password: &NewPassword,
    roles: &[String],
) -> Result<(), UserError> {
    validate_name(name)?;
    let hash = &password.0;
    conn.transaction(|conn| {
        rowguard::db::lock_for_writing(conn)?;
        check_roles(conn, roles)?;
        if let Some(taken) = existing(conn, name)? {
            return Err(UserError::Exists(taken));
        }
        let at = now();
        diesel::insert_into(users::table)
            .values((
                users::name.eq(name),
                users::password_hash.eq(hash),
                users::locked.eq(false),
                users::token_epoch.eq(0i64),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .execute(conn)
            .map_err(|e| match e {
                // Added by someone else since the check above.
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => UserError::Exists(name.to_owned()),
                other => other.into(),
            })?;
        insert_roles(conn, name, roles)
    })
}

fn insert_roles(conn: &mut AnyConnection, name: &str, roles: &[String]) -> Result<(), UserError> {
    let mut unique: Vec<&String> = roles.iter().collect();
    unique.sort();
    unique.dedup();
    for role in unique {
        diesel::insert_into(user_roles::table)
            .values((user_roles::user_name.eq(name), user_roles::role.eq(role)))
            .execute(conn)?;
    }
    Ok(())
}

/// Moves the user to a new token epoch and deletes their tokens: every token, also one a
/// racing login is about to store under the old epoch, stops working at once.
fn revoke_all(conn: &mut AnyConnection, name: &str) -> Result<(), UserError> {
    diesel::update(users::table.find(name))
        .set((
            users::token_epoch.eq(users::token_epoch + 1),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::delete(user_tokens::table.filter(user_tokens::user_name.eq(name))).execute(conn)?;
    Ok(())
}

/// Sets user `name`'s password and revokes all of their tokens.
pub fn set_password(
    conn: &mut AnyConnection,
    name: &str,
    password: &NewPassword,
) -> Result<(), UserError> {
    conn.transaction(|conn| {
        rowguard::db::lock_for_writing(conn)?;
        let changed = diesel::update(users::table.find(name))
            .set(users::password_hash.eq(&password.0))
            .execute(conn)?;
        if changed == 0 {
            return Err(UserError::Unknown(name.to_owned()));
        }
        revoke_all(conn, name)
    })
}

/// Locks (revoking all tokens) or unlocks user `name`.
pub fn set_locked(conn: &mut AnyConnection, name: &str, locked: bool) -> Result<(), UserError> {
    conn.transaction(|conn| {
        rowguard::db::lock_for_writing(conn)?;
        let changed = diesel::update(users::table.find(name))
            .set((users::locked.eq(locked), users::updated_at.eq(now())))
            .execute(conn)?;
        if changed == 0 {
            return Err(UserError::Unknown(name.to_owned()));
        }
        if locked {
            revoke_all(conn, name)?;
        }
        Ok(())
    })
}

/// Replaces user `name`'s roles (each must be an RBAC role). Takes effect on the user's
/// next request: roles are read per request, not kept in the token.
pub fn set_roles(conn: &mut AnyConnection, name: &str, roles: &[String]) -> Result<(), UserError> {
    conn.transaction(|conn| {
        rowguard::db::lock_for_writing(conn)?;
        check_roles(conn, roles)?;
        let changed = diesel::update(users::table.find(name))
            .set(users::updated_at.eq(now()))
            .execute(conn)?;
        if changed == 0 {
            return Err(UserError::Unknown(name.to_owned()));
        }
        diesel::delete(user_roles::table.filter(user_roles::user_name.eq(name))).execute(conn)?;
        insert_roles(conn, name, roles)
    })
}

/// User `name`'s roles, sorted.
pub fn roles_of(conn: &mut AnyConnection, name: &str) -> Result<Vec<String>, UserError> {
    Ok(user_roles::table
        .filter(user_roles::user_name.eq(name))
        .select(user_roles::role)
        .order(user_roles::role)
        .load(conn)?)
}

/// Every user, by name.
pub fn list(conn: &mut AnyConnection) -> Result<Vec<UserInfo>, UserError> {
    let rows: Vec<(String, bool, NaiveDateTime, NaiveDateTime)> = users::table
        .select((
            users::name,
            users::locked,
            users::created_at,
            users::updated_at,
        ))
        .order(users::name)
        .load(conn)?;
    let roles: Vec<(String, String)> = user_roles::table
        .select((user_roles::user_name, user_roles::role))
        .order((user_roles::user_name, user_roles::role))
        .load(conn)?;
    let tokens: Vec<String> = user_tokens::table
        .filter(user_tokens::expires_at.gt(now()))
        .select(user_tokens::user_name)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, locked, created_at, updated_at)| UserInfo {
            roles: roles
                .iter()
                .filter(|(u, _)| *u == name)
                .map(|(_, r)| r.clone())
                .collect(),
            active_tokens: tokens.iter().filter(|u| **u == name).count() as i64,
            name,
            locked,
            created_at,
            updated_at,
        })
        .collect())
}

/// The subject of user `name` with direct `roles`, before RBAC adds inherited roles.
///
/// ```
/// let subject = rowguard_server::users::subject("ann", &["support".to_owned()]);
/// assert_eq!(subject.set("roles").collect::<Vec<_>>(), ["support"]);
/// assert_eq!(subject.set("id").collect::<Vec<_>>(), ["ann"]);
/// assert_eq!(subject.attributes().get("id").and_then(|v| v.first()).map(String::as_str), Some("ann"));
/// ```
pub fn subject(name: &str, roles: &[String]) -> Subject {
    Subject::new()
        .with_set("roles", roles.iter().map(String::as_str))
        .with_set("id", [name])
        .with_attribute("id", name)
}
