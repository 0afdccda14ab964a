//! How a model and its rows are named by ARNs: `arn:<partition>:<service>:<region>:<account>:<model>`
//! for the model itself (resource-agnostic checks such as `contacts:List`) and
//! `…:<model>/<primary key>` for one row.
//!
//! Partition, service and region are set per model (defaults `rowguard`, `default`, `local`).
//! The account is a column of the model (a tenant or team column: each row's own account)
//! or a fixed text. For the model itself, the account comes from the subject's `account`
//! attribute when the model has an account column, and the region from its `region`
//! attribute when it has one.

use std::fmt;

use super::{Arn, PolicyError};
use crate::rules::{ColumnType, Columns, Value, ValueRef};
use crate::Subject;

/// Where the account part of a model's ARNs comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArnAccount<S> {
    /// This column of the row (for the model itself: the subject's `account` attribute).
    Column(S),
    /// This text, for every row and for the model.
    Fixed(S),
}

/// The ARN form of a model: declared in code (`ModelArn<&'static str>`, with
/// `arn { … }` in [`authorizable!`](crate::authorizable)) and stored with the model
/// (`ModelArn<String>`).
///
/// ```
/// use rowguard::policy::{ArnAccount, ModelArn};
///
/// const TEAMS: ModelArn<&str> = ModelArn::DEFAULT.with_service("crm").with_account_column("team_id");
/// assert_eq!(TEAMS.service, "crm");
/// assert_eq!(TEAMS.account, ArnAccount::Column("team_id"));
/// assert_eq!(TEAMS.to_string(), r#"{"partition":"rowguard","service":"crm","region":"local","account_column":"team_id"}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelArn<S> {
    /// The partition (a project or deployment).
    pub partition: S,
    /// The service the model belongs to.
    pub service: S,
    /// The region of its rows.
    pub region: S,
    /// Where the account comes from.
    pub account: ArnAccount<S>,
}

/// The account of a model without an account column, unless it names one.
pub const DEFAULT_ACCOUNT: &str = "default";

impl ModelArn<&'static str> {
    /// `rowguard`, `default`, `local`, and the fixed account `default`.
    pub const DEFAULT: Self = ModelArn {
        partition: "rowguard",
        service: "default",
        region: "local",
        account: ArnAccount::Fixed(DEFAULT_ACCOUNT),
    };

    /// With this partition.
    pub const fn with_partition(self, partition: &'static str) -> Self {
        ModelArn { partition, ..self }
    }

    /// With this service.
    pub const fn with_service(self, service: &'static str) -> Self {
        ModelArn { service, ..self }
    }

    /// With this region.
    pub const fn with_region(self, region: &'static str) -> Self {
        ModelArn { region, ..self }
    }

    /// Each row's account is its value of `column`.
    pub const fn with_account_column(self, column: &'static str) -> Self {
        ModelArn {
            account: ArnAccount::Column(column),
            ..self
        }
    }

    /// Every row's account is `account`.
    pub const fn with_account(self, account: &'static str) -> Self {
        ModelArn {
            account: ArnAccount::Fixed(account),
            ..self
        }
    }

    /// The account column, if any (for `authorizable!`'s compile-time check).
    #[doc(hidden)]
    pub const fn account_column(&self) -> &'static str {
        match self.account {
            ArnAccount::Column(c) => c,
            ArnAccount::Fixed(_) => "",
        }
    }

    /// The stored form.
    pub fn to_owned(&self) -> ModelArn<String> {
        ModelArn {
            partition: self.partition.to_owned(),
            service: self.service.to_owned(),
            region: self.region.to_owned(),
            account: match self.account {
                ArnAccount::Column(c) => ArnAccount::Column(c.to_owned()),
                ArnAccount::Fixed(a) => ArnAccount::Fixed(a.to_owned()),
            },
        }
    }
}

impl Default for ModelArn<String> {
    fn default() -> Self {
        ModelArn::DEFAULT.to_owned()
    }
}

impl<S: AsRef<str>> ModelArn<S> {
    /// The account part's source, borrowed.
    pub fn account(&self) -> ArnAccount<&str> {
        match &self.account {
            ArnAccount::Column(c) => ArnAccount::Column(c.as_ref()),
            ArnAccount::Fixed(a) => ArnAccount::Fixed(a.as_ref()),
        }
    }

    /// Whether it is the default form (stored as NULL).
    pub fn is_default(&self) -> bool {
        let d = ModelArn::DEFAULT;
        self.partition.as_ref() == d.partition
            && self.service.as_ref() == d.service
            && self.region.as_ref() == d.region
            && self.account() == d.account
    }

    /// Checks the parts (non-empty, no `:`, `/` or wildcard) and the account column (one
    /// of `columns`, of an integer, text or UUID type). The error names the part.
    pub fn validate(&self, columns: &Columns) -> Result<(), PolicyError> {
        self.validate_parts()?;
        if let ArnAccount::Column(column) = self.account() {
            let bad = |why: String| PolicyError::Arn {
                text: self.to_string(),
                why,
            };
            match columns.get(column) {
                None => {
                    return Err(bad(format!(
                        "the account column \"{column}\" is not one of the model's columns ({})",
                        columns.names_list()
                    )))
                }
                Some((_, ty)) if !names_resources(ty) => {
                    return Err(bad(format!(
                        "the account column \"{column}\" is {ty}; an account is an integer, text or uuid"
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks the parts only: non-empty, no `:`, `/`, `*` or `?`, no white space.
    pub fn validate_parts(&self) -> Result<(), PolicyError> {
        let bad = |why: String| PolicyError::Arn {
            text: self.to_string(),
            why,
        };
        let fixed = match self.account() {
            ArnAccount::Fixed(a) => Some(("account", a)),
            ArnAccount::Column(_) => None,
        };
        for (name, part) in [
            ("partition", self.partition.as_ref()),
            ("service", self.service.as_ref()),
            ("region", self.region.as_ref()),
        ]
        .into_iter()
        .chain(fixed)
        {
            if part.is_empty()
                || part.contains([':', '/', '*', '?'])
                || part.chars().any(super::arn::unseen)
            {
                return Err(bad(format!(
                    "the {name} \"{part}\" must be non-empty, without ':', '/', '*', '?' or white space"
                )));
            }
        }
        Ok(())
    }

    /// The ARN of the model itself, for `subject` (resource-agnostic checks such as
    /// `contacts:List` or `contacts:Create`): the account is the subject's `account`
    /// attribute when the model has an account column, and the region its `region`
    /// attribute when it has one and the model declares none (a declared region is the
    /// model's, whoever asks).
    ///
    /// ```
    /// use rowguard::policy::ModelArn;
    /// use rowguard::Subject;
    ///
    /// let teams = ModelArn::DEFAULT.with_account_column("team_id").to_owned();
    /// let member = Subject::new().with_attribute("account", 7).with_attribute("region", "eu");
    /// assert_eq!(teams.model_arn("contacts", &member)?.as_str(), "arn:rowguard:default:eu:7:contacts");
    /// assert!(teams.model_arn("contacts", &Subject::new()).is_err()); // whose contacts?
    /// // A declared region is the model's, whatever the subject says.
    /// let eu = ModelArn::DEFAULT.with_region("eu").with_account_column("team_id").to_owned();
    /// let abroad = Subject::new().with_attribute("account", 7).with_attribute("region", "us");
    /// assert_eq!(eu.model_arn("contacts", &abroad)?.as_str(), "arn:rowguard:default:eu:7:contacts");
    /// // Two regions would be two resources: an error, not one of them picked.
    /// let both = member.clone().with_attribute_list("region", ["eu", "us"]);
    /// assert!(teams.model_arn("contacts", &both).is_err());
    /// # Ok::<(), rowguard::policy::PolicyError>(())
    /// ```
    pub fn model_arn(&self, model: &str, subject: &Subject) -> Result<Arn, PolicyError> {
        let place = || {
            format!(
                "arn:{}:{}:…:{model}",
                self.partition.as_ref(),
                self.service.as_ref()
            )
        };
        let attribute = |name: &str| subject_attribute(subject, name, &place);
        // A declared region is the model's; the default one yields to the subject's.
        let region = match attribute("region")? {
            Some(region) if self.region.as_ref() == ModelArn::DEFAULT.region => region,
            _ => self.region.as_ref(),
        };
        let account = match self.account() {
            ArnAccount::Fixed(a) => a,
            ArnAccount::Column(column) => {
                attribute("account")?.ok_or_else(|| PolicyError::Arn {
                    text: format!(
                        "arn:{}:{}:{region}:?:{model}",
                        self.partition.as_ref(),
                        self.service.as_ref()
                    ),
                    why: format!(
                    "the model's account is its column {column}, so a check of the model itself \
                     takes the subject's account: give the subject one \"account\" attribute"
                ),
                })?
            }
        };
        Arn::new(
            self.partition.as_ref(),
            self.service.as_ref(),
            region,
            account,
            model,
            None,
        )
    }

    /// The ARN of one row: its account (the account column's value, `account`, when the model
    /// has one) and its primary key `key`.
    pub fn row_arn(
        &self,
        model: &str,
        account: ValueRef<'_>,
        key: ValueRef<'_>,
    ) -> Result<Arn, PolicyError> {
        let account = match self.account() {
            ArnAccount::Fixed(a) => a.to_owned(),
            ArnAccount::Column(column) => {
                resource_text(account).ok_or_else(|| PolicyError::Arn {
                    text: format!("{model} row {}", key.to_value()),
                    why: format!("its account column {column} holds {}", account.to_value()),
                })?
            }
        };
        let id = resource_text(key).ok_or_else(|| PolicyError::Arn {
            text: format!("{model} row {}", key.to_value()),
            why: "its primary key is not an integer, text or uuid".to_owned(),
        })?;
        // A wildcard character in data is not a wildcard: such a row has no ARN.
        if let Some(part) = [("account", &account), ("primary key", &id)]
            .into_iter()
            .find(|(_, text)| text.contains(['*', '?']))
        {
            return Err(PolicyError::Arn {
                text: format!("{model} row {}", key.to_value()),
                why: format!("its {} holds '*' or '?', which an ARN cannot name", part.0),
            });
        }
        Arn::new(
            self.partition.as_ref(),
            self.service.as_ref(),
            self.region.as_ref(),
            &account,
            model,
            Some(&id),
        )
    }
}

/// Whether values of `ty` name resources (an account, a primary key): integers, text, UUIDs.
pub(crate) fn names_resources(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Integer | ColumnType::Bigint | ColumnType::Text | ColumnType::Uuid
    )
}

/// A value as it appears in an ARN: integers in decimal, text and UUIDs as they are.
pub(crate) fn resource_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Int(i) => Some(i.to_string()),
        ValueRef::Text(t) | ValueRef::Uuid(t) => Some(t.to_owned()),
        _ => None,
    }
}

/// The value of type `ty` whose ARN text is exactly `text` (`017` names no integer key: the
/// ARN of key 17 says `17`).
pub(crate) fn resource_value(ty: ColumnType, text: &str) -> Option<Value> {
    let value = Value::parse(ty, text).ok()?;
    (resource_text(value.borrowed()).as_deref() == Some(text)).then_some(value)
}

impl<S: AsRef<str>> fmt::Display for ModelArn<S> {
    /// The stored form: a JSON object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut object = serde_json::Map::new();
        for (name, part) in [
            ("partition", self.partition.as_ref()),
            ("service", self.service.as_ref()),
            ("region", self.region.as_ref()),
        ] {
            object.insert(name.into(), part.into());
        }
        match self.account() {
            ArnAccount::Column(c) => object.insert("account_column".into(), c.into()),
            ArnAccount::Fixed(a) => object.insert("account".into(), a.into()),
        };
        write!(f, "{}", serde_json::Value::Object(object))
    }
}

impl std::str::FromStr for ModelArn<String> {
    type Err = String;

    /// Reads the stored form (what [`fmt::Display`] writes); missing parts take the defaults.
    fn from_str(text: &str) -> Result<Self, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("the ARN form is not JSON: {e}"))?;
        let serde_json::Value::Object(object) = json else {
            return Err("the ARN form is not a JSON object".to_owned());
        };
        if object.contains_key("account") && object.contains_key("account_column") {
            return Err("the ARN form has both \"account\" and \"account_column\"".to_owned());
        }
        let mut arn = ModelArn::default();
        for (key, value) in object {
            let serde_json::Value::String(value) = value else {
                return Err(format!("the ARN form's \"{key}\" is not a string"));
            };
            match key.as_str() {
                "partition" => arn.partition = value,
                "service" => arn.service = value,
                "region" => arn.region = value,
                "account" => arn.account = ArnAccount::Fixed(value),
                "account_column" => arn.account = ArnAccount::Column(value),
                other => {
                    return Err(format!(
                        "the ARN form has an unknown key \"{other}\" (partition, service, \
                         region, account, account_column)"
                    ))
                }
            }
        }
        Ok(arn)
    }
}

/// The subject's one value of attribute `name` (none when it has none). Several values
/// would be several resources: an error rather than one picked, so that a `Deny` scoped to
/// one of them is not escaped by holding two. `place` names the ARN being built.
pub(crate) fn subject_attribute<'s>(
    subject: &'s Subject,
    name: &str,
    place: &dyn Fn() -> String,
) -> Result<Option<&'s str>, PolicyError> {
    match subject.attributes().get(name) {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(one.as_str())),
        Some(_) => Err(PolicyError::Arn {
            text: place(),
            why: format!("the subject has several \"{name}\" attributes; give it one"),
        }),
    }
}
