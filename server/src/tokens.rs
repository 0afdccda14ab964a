//! Login tokens: opaque random strings, stored only as their SHA-256, with an expiry and the
//! user's token epoch.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rowguard::AnyConnection;
use sha2::{Digest, Sha256};

use crate::users::{now, users};

diesel::table! {
    /// Issued tokens, by hash.
    user_tokens (token_hash) {
        /// Hex SHA-256 of the token's text (the text itself is never stored).
        token_hash -> Text,
        /// Whose token.
        user_name -> Text,
        /// The user's token epoch when it was issued; valid only while they are equal.
        token_epoch -> BigInt,
        /// When it was issued (UTC).
        created_at -> Timestamp,
        /// When it stops being valid (UTC).
        expires_at -> Timestamp,
    }
}

diesel::joinable!(user_tokens -> users (user_name));
diesel::allow_tables_to_appear_in_same_query!(users, user_tokens);

/// Live tokens a user keeps; a login beyond that revokes the oldest.
pub const MAX_TOKENS_PER_USER: i64 = 100;

/// Prefix of every token (recognisable in a leaked file or a secret scanner).
pub const TOKEN_PREFIX: &str = "rgt_";

/// A token's text. Its `Debug` never shows it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token: 256 random bits from the operating system, hex, with [`TOKEN_PREFIX`].
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{TOKEN_PREFIX}{}", hex(&bytes))))
    }

    /// Wraps a token received from a client.
    pub fn from_client(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// The text, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores: hex SHA-256 of the text.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }

    /// The CSRF token that goes with this token when it is sent as a cookie: derived from the
    /// token, so any instance can check it, and unknowable to a page that cannot read the
    /// (HttpOnly) cookie.
    pub fn csrf(&self) -> String {
        hex(&Sha256::digest(
            format!("rowguard-csrf:{}", self.0).as_bytes(),
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A valid token's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's name.
    pub user: String,
    /// The user's direct roles.
    pub roles: Vec<String>,
    /// When the token expires.
    pub expires_at: NaiveDateTime,
}

/// Stores a new token for `user` at token epoch `epoch`, valid for `ttl_secs`; deletes the
/// user's expired tokens on the way.
pub fn issue(
    conn: &mut AnyConnection,
    user: &str,
    epoch: i64,
    ttl_secs: u64,
) -> Result<(Token, NaiveDateTime), crate::ApiError> {
    let token = Token::generate().map_err(crate::ApiError::internal)?;
    let created = now();
    let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2);
    let expires_at = created + chrono::Duration::seconds(ttl);
    conn.transaction(|conn| {
        diesel::delete(
            user_tokens::table
                .filter(user_tokens::user_name.eq(user))
                .filter(user_tokens::expires_at.le(created)),
        )
        .execute(conn)?;
        diesel::insert_into(user_tokens::table)
            .values((
                user_tokens::token_hash.eq(token.hash()),
                user_tokens::user_name.eq(user),
                user_tokens::token_epoch.eq(epoch),
                // To the microsecond: the newest tokens are the ones a user keeps.
                user_tokens::created_at.eq(chrono::Utc::now().naive_utc()),
                user_tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        // A user keeps at most MAX_TOKENS_PER_USER: a login loop cannot fill the table.
        let surplus: Vec<String> = user_tokens::table
            .filter(user_tokens::user_name.eq(user))
            .order((user_tokens::created_at.desc(), user_tokens::token_hash))
            .select(user_tokens::token_hash)
            .offset(MAX_TOKENS_PER_USER)
            .limit(1_000)
            .load(conn)?;
        diesel::delete(user_tokens::table.filter(user_tokens::token_hash.eq_any(&surplus)))
            .execute(conn)
    })?;
    Ok((token, expires_at))
}

/// The session of `token` if it is stored, unexpired, of the user's current epoch and the
/// user is not locked. Read from the database on every call: a revocation through any
/// instance is seen by all at once.
pub fn authenticate(
    conn: &mut AnyConnection,
    token: &Token,
) -> Result<Option<Session>, diesel::result::Error> {
    let found: Option<(String, NaiveDateTime)> = user_tokens::table
        .inner_join(users::table)
        .filter(user_tokens::token_hash.eq(token.hash()))
        .filter(user_tokens::expires_at.gt(now()))
        .filter(users::locked.eq(false))
        .filter(user_tokens::token_epoch.eq(users::token_epoch))
        .select((users::name, user_tokens::expires_at))
        .first(conn)
        .optional()?;
    let Some((user, expires_at)) = found else {
        return Ok(None);
    };
    let roles = crate::users::roles_of(conn, &user).map_err(|e| match e {
        crate::users::UserError::Db(e) => e,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })?;
    Ok(Some(Session {
        user,
        roles,
        expires_at,
    }))
}

/// Deletes `token`; whether it was stored.
pub fn revoke(conn: &mut AnyConnection, token: &Token) -> Result<bool, diesel::result::Error> {
    Ok(
        diesel::delete(user_tokens::table.filter(user_tokens::token_hash.eq(token.hash())))
            .execute(conn)?
            > 0,
    )
}
