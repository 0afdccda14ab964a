//! IAM-style policies for a subject: the stored policies of its sets (and the universal
//! role) merged into one, cached with the rules' freshness, and checked
//! ([`Authorizer::is_allowed`], [`Authorizer::policy_decision`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::access::Bypass;
use super::authorizer::Authorizer;
use crate::cache::{Reading, RuleCache, Stamp};
use crate::db::StoreConnection;
use crate::error::Error;
use crate::model::Authorizable;
use crate::policy::{Arn, ArnAccount, ModelArn, Policy, PolicyError, Reason};
use crate::store::{self, PolicyRow};
use crate::Subject;

/// Where a statement of a subject's merged policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementOrigin {
    /// The set type of the policy that holds it (`roles`).
    pub set_type: String,
    /// The set value (`agent`).
    pub set_value: String,
    /// Its position in that policy.
    pub index: usize,
    /// Its `Sid`, if it has one.
    pub sid: Option<String>,
}

impl fmt::Display for StatementOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement {}", self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " ({sid})")?;
        }
        write!(f, " of policy {} \"{}\"", self.set_type, self.set_value)
    }
}

/// A stored policy of the subject's sets that does not parse (a DBA's SQL): while it is
/// there every policy check of the subject is refused, since the statements it would deny
/// cannot be known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenPolicy {
    /// The set type.
    pub set_type: String,
    /// The set value.
    pub set_value: String,
    /// What is wrong.
    pub error: String,
    /// Whether it may hold a `Deny` (then every check of its subjects is refused, and their
    /// rows' rights too; otherwise it only fails to grant).
    pub refuses: bool,
}

impl BrokenPolicy {
    /// The broken policies among `broken` that refuse.
    pub(super) fn refusing(broken: &[BrokenPolicy]) -> Option<&BrokenPolicy> {
        broken.iter().find(|b| b.refuses)
    }
}

/// A subject's policy: every statement stored for its sets, with where each comes from.
#[derive(Debug, Clone, Default)]
pub struct SubjectPolicy {
    /// The statements of all of the subject's policies, in the order of its sets.
    pub policy: Policy,
    /// For each statement of `policy`, its policy and position.
    pub origins: Vec<StatementOrigin>,
    /// The subject's stored policies that do not parse.
    pub broken: Vec<BrokenPolicy>,
}

impl SubjectPolicy {
    pub(super) fn of(rows: Vec<PolicyRow>) -> Self {
        let mut parsed = Vec::with_capacity(rows.len());
        let mut origins = Vec::new();
        let mut broken = Vec::new();
        for row in rows {
            match Policy::parse(&row.policy) {
                Ok(policy) => {
                    origins.extend(policy.statements().iter().enumerate().map(|(index, s)| {
                        StatementOrigin {
                            set_type: row.set_type.clone(),
                            set_value: row.set_value.clone(),
                            index,
                            sid: s.sid().map(str::to_owned),
                        }
                    }));
                    parsed.push(policy);
                }
                Err(e) => {
                    let refuses = crate::policy::may_deny(&row.policy);
                    let effect = if refuses {
                        "it may hold a Deny, so everything policies decide for its subjects is refused"
                    } else {
                        "it grants nothing"
                    };
                    tracing::error!(
                        policy = row.id,
                        // Debug: a set value is data, and may hold a line break.
                        "rowguard: invalid policy ({:?} {:?}), {effect} until it is fixed: {e}",
                        row.set_type,
                        row.set_value
                    );
                    broken.push(BrokenPolicy {
                        set_type: row.set_type,
                        set_value: row.set_value,
                        error: e.to_string(),
                        refuses,
                    });
                }
            }
        }
        Self {
            policy: Policy::merge(&parsed),
            origins,
            broken,
        }
    }

    /// What `policies explain` prints: each statement with the policy it comes from, each
    /// invalid policy, and then `decision` (one line each).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[
    ///     {"Sid": "servers", "Effect": "Allow", "Action": "server:*", "Resource": "arn:rowguard:default:local:123:server/*"}]"#)?;
    /// let arn = "arn:rowguard:default:local:123:server/1";
    /// let decision = auth.policy_decision(&mut conn, &agent(), "server:Delete", arn)?;
    /// let policy = auth.policy(&mut conn, &agent())?;
    /// assert_eq!(policy.explain(&decision), format!(
    ///     "statement 0 (servers) of policy roles \"agent\": Allow server:* on arn:rowguard:default:local:123:server/*\n\
    ///      allowed: statement 0 (servers) of policy roles \"agent\" allows server:Delete on {arn}, and no statement denies it"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn explain(&self, decision: &PolicyDecision) -> String {
        let join = |items: Vec<&str>| items.join(", ");
        let mut lines = Vec::new();
        if self.policy.statements().is_empty() && self.broken.is_empty() {
            lines.push("no policy applies to this subject".to_owned());
        }
        for (statement, origin) in self.policy.statements().iter().zip(&self.origins) {
            lines.push(format!(
                "{origin}: {} {} on {}",
                statement.effect(),
                join(statement.actions().iter().map(|a| a.as_str()).collect()),
                join(statement.resources().iter().map(|r| r.as_str()).collect())
            ));
        }
        for b in &self.broken {
            lines.push(format!(
                "policy {} \"{}\" is invalid: {}",
                b.set_type, b.set_value, b.error
            ));
        }
        lines.push(decision.to_string());
        lines.join("\n")
    }
}

/// Why a policy check came out as it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyReason {
    /// Rules do not apply to the subject (the development override, absolute rights).
    Bypass(Bypass),
    /// One of the subject's stored policies does not parse and may hold a `Deny`: refused.
    Broken(BrokenPolicy),
    /// This statement denies it (an explicit deny wins over any allow).
    Denied(StatementOrigin),
    /// This statement allows it, and none denies it.
    Allowed(StatementOrigin),
    /// No statement names it.
    NoMatch,
    /// No statement names it, and RBAC decides: whether the subject's roles grant it (a
    /// permission key, a command; see [`Authorizer::rbac_decision`]).
    Roles(bool),
}

/// The answer to a policy check, with what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// What decided.
    pub reason: PolicyReason,
    /// The action checked.
    pub action: String,
    /// The resource checked.
    pub resource: Arn,
}

impl PolicyDecision {
    /// The decision as `policies try --json` prints it and the HTTP API answers it:
    /// `{"allowed", "action", "resource", "decision": <the sentence>, "statement":
    /// {"set_type", "set_value", "index", "sid"} | null}`.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let arn = "arn:rowguard:default:local:123:server/1";
    /// let decision = auth.policy_decision(&mut conn, &agent(), "server:Delete", arn)?;
    /// assert_eq!(decision.to_json(), serde_json::json!({
    ///     "allowed": false, "action": "server:Delete", "resource": arn,
    ///     "decision": format!("denied: no statement names server:Delete on {arn}"),
    ///     "statement": null,
    /// }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let statement = match &self.reason {
            PolicyReason::Denied(s) | PolicyReason::Allowed(s) => serde_json::json!({
                "set_type": s.set_type,
                "set_value": s.set_value,
                "index": s.index,
                "sid": s.sid,
            }),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "allowed": self.allowed,
            "action": self.action,
            "resource": self.resource.as_str(),
            "decision": self.to_string(),
            "statement": statement,
        })
    }
}

impl fmt::Display for PolicyDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, resource) = (&self.action, &self.resource);
        match &self.reason {
            PolicyReason::Bypass(Bypass::Override) => {
                write!(f, "allowed: the authorization override is on")
            }
            PolicyReason::Bypass(Bypass::AbsoluteRights) => {
                write!(f, "allowed: the subject has absolute rights")
            }
            PolicyReason::Broken(b) => write!(
                f,
                "denied: policy {} \"{}\" is invalid and may hold a Deny ({}), so no policy check of this subject passes",
                b.set_type, b.set_value, b.error
            ),
            PolicyReason::Denied(s) => write!(f, "denied: {s} denies {action} on {resource}"),
            PolicyReason::Allowed(s) => write!(
                f,
                "allowed: {s} allows {action} on {resource}, and no statement denies it"
            ),
            PolicyReason::NoMatch => {
                write!(f, "denied: no statement names {action} on {resource}")
            }
            PolicyReason::Roles(true) => write!(
                f,
                "allowed: no statement names {action} on {resource}, and the subject's roles grant it"
            ),
            PolicyReason::Roles(false) => write!(
                f,
                "denied: no statement names {action} on {resource}, and the subject's roles do not grant it"
            ),
        }
    }
}

/// What a policy check is about: an ARN (as text or parsed), an authorizable model itself
/// ([`model_type`]) or one of its rows. A check whose resource holds a wildcard is an error,
/// never an answer.
pub trait PolicyResource {
    /// The resource's ARN, for `subject`.
    fn arn(&self, subject: &Subject) -> Result<Cow<'_, Arn>, PolicyError>;
}

impl PolicyResource for str {
    fn arn(&self, _: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        Ok(Cow::Owned(Arn::parse(self)?))
    }
}

impl PolicyResource for String {
    fn arn(&self, subject: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        self.as_str().arn(subject)
    }
}

impl PolicyResource for Arn {
    fn arn(&self, _: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        Ok(Cow::Borrowed(self))
    }
}

/// A row of an authorizable model is named `arn:…:<account>:<model>/<primary key>`, from the
/// model's declared ARN form ([`Authorizable::ARN`]).
impl<M: Authorizable> PolicyResource for M {
    fn arn(&self, _: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        let cell = |column: &str| {
            M::columns()
                .get(column)
                .map_or(crate::rules::ValueRef::Null, |(i, _)| self.cell(i))
        };
        let account = match M::ARN.account {
            ArnAccount::Column(column) => cell(column),
            ArnAccount::Fixed(_) => crate::rules::ValueRef::Null,
        };
        Ok(Cow::Owned(M::ARN.row_arn(
            M::NAME,
            account,
            cell(M::PRIMARY_KEY),
        )?))
    }
}

/// An authorizable model itself, for resource-agnostic checks (`contacts:List`,
/// `contacts:Create`): `arn:…:<account>:<model>`, the account and region from the subject
/// when the model takes each row's account from a column (see
/// [`ModelArn::model_arn`](crate::policy::ModelArn::model_arn)).
///
/// ```
/// # include!("../../docs/doctest_setup.rs");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (auth, mut conn) = setup()?;
/// use rowguard::guard::model_type;
/// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[
///     {"Effect": "Allow", "Action": "contacts:List", "Resource": "arn:rowguard:default:local:default:contacts"}
/// ]"#)?;
/// assert!(auth.is_allowed(&mut conn, &agent(), "contacts:List", &model_type::<Contact>())?);
/// # Ok(())
/// # }
/// ```
pub struct ModelType<M>(PhantomData<fn() -> M>);

/// The model `M` itself as a policy resource.
pub fn model_type<M: Authorizable>() -> ModelType<M> {
    ModelType(PhantomData)
}

impl<M: Authorizable> PolicyResource for ModelType<M> {
    fn arn(&self, subject: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        Ok(Cow::Owned(M::ARN.model_arn(M::NAME, subject)?))
    }
}

/// A resource of a service rather than a row: `arn:rowguard:<service>:<region>:<account>:<type>[/<id>]`,
/// the account from the subject's `account` attribute (`default` without one) and the region
/// from its `region` attribute (`local` without one). rowguard names two: a job command
/// (`jobs`, `command`, its name) and a permission key (`rowguard`, `permission`, the key).
///
/// ```
/// use rowguard::guard::{PolicyResource, ServiceResource};
/// use rowguard::Subject;
///
/// let command = ServiceResource::new("jobs", "command", Some("reindex"));
/// let team = Subject::new().with_attribute("account", 3);
/// assert_eq!(command.arn(&team)?.as_str(), "arn:rowguard:jobs:local:3:command/reindex");
/// # Ok::<(), rowguard::policy::PolicyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceResource<'a> {
    service: &'a str,
    resource_type: &'a str,
    id: Option<&'a str>,
}

impl<'a> ServiceResource<'a> {
    /// The resource `resource_type[/id]` of `service`.
    pub fn new(service: &'a str, resource_type: &'a str, id: Option<&'a str>) -> Self {
        Self {
            service,
            resource_type,
            id,
        }
    }
}

impl PolicyResource for ServiceResource<'_> {
    fn arn(&self, subject: &Subject) -> Result<Cow<'_, Arn>, PolicyError> {
        let place = || format!("arn:rowguard:{}:…:{}", self.service, self.resource_type);
        let attribute = |name: &str, default: &'static str| {
            crate::policy::subject_attribute(subject, name, &place).map(|v| v.unwrap_or(default))
        };
        Ok(Cow::Owned(Arn::new(
            ModelArn::DEFAULT.partition,
            self.service,
            attribute("region", ModelArn::DEFAULT.region)?,
            attribute("account", crate::policy::DEFAULT_ACCOUNT)?,
            self.resource_type,
            self.id,
        )?))
    }
}

/// What RBAC and the policies say together: a policy `Deny` (or a broken policy that may
/// hold one) refuses whatever RBAC grants; a policy `Allow` grants; otherwise (no statement,
/// or a bypass of the rules, which is not RBAC's) RBAC's answer stands.
pub fn with_rbac(rbac_allows: bool, decision: &PolicyDecision) -> bool {
    match decision.reason {
        PolicyReason::Denied(_) | PolicyReason::Broken(_) => false,
        PolicyReason::Allowed(_) => true,
        PolicyReason::Roles(granted) => granted,
        PolicyReason::NoMatch | PolicyReason::Bypass(_) => rbac_allows,
    }
}

/// The key policies are cached under (rules use model names; none is empty).
const POLICY_KEY: &str = "";

impl Authorizer {
    /// The merged policy of `subject`: the policies stored for its sets and for the
    /// universal role. From the cache, or one query on `conn`; fresh like the rules (a
    /// change, even a DBA's SQL, is seen at the next version check).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::store::put_policy;
    /// put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Allow", "Action": "server:*", "Resource": "*"}]"#)?;
    /// put_policy(&mut conn, "universal", rowguard::DEFAULT_UNIVERSAL_ROLE, r#"[{"Sid": "NoDeletes", "Effect": "Deny", "Action": "server:Delete", "Resource": "*"}]"#)?;
    /// let policy = auth.policy(&mut conn, &agent())?;
    /// assert_eq!(policy.policy.statements().len(), 2);
    /// assert_eq!(policy.origins[1].to_string(), r#"statement 0 (NoDeletes) of policy universal "rowguard-universal""#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn policy(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
    ) -> Result<Arc<SubjectPolicy>, Error> {
        let cache = self.policy_cache();
        // A transaction of the caller's that wrote rowguard's tables neither uses nor fills
        // the cache (what it reads may never commit).
        let reading = Reading::now(conn);
        // The rules' version check: both caches see the same versions.
        let checked = if reading.dirty {
            None
        } else {
            self.refresh(conn)?
        };
        let sets = subject.sets_key();
        let hash = RuleCache::<SubjectPolicy>::hash(POLICY_KEY, subject.sets_hash());
        if !reading.dirty {
            if let Some((_, hit)) = cache.get(hash, POLICY_KEY, sets) {
                return Ok(hit);
            }
        }
        // The version before the rows (unless this call just read it): never stamped newer
        // than what was read.
        let epoch = cache.epoch();
        let version = match checked {
            Some(version) => version,
            None => {
                let version = store::state_version(conn)?;
                self.observe_version(version, reading);
                version
            }
        };
        let rows = store::load_policies(conn, &self.effective_sets(subject))?;
        let policy = Arc::new(SubjectPolicy::of(rows));
        let stamp = Stamp { epoch, version };
        cache.insert(
            hash,
            POLICY_KEY,
            sets.clone(),
            (stamp, reading),
            policy.clone(),
        );
        Ok(policy)
    }

    /// The decision on `action` (`service:Verb`) on `resource` for `subject`, with the
    /// statement that decided it. A wildcard in the action or the resource is an error
    /// ([`PolicyError::WildcardCheck`]), checked before anything else. The development
    /// override and absolute rights allow everything, as they do for rules.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[
    ///     {"Effect": "Allow", "Action": "server:*", "Resource": "arn:rowguard:default:local:123:server/*"},
    ///     {"Sid": "KeepOne", "Effect": "Deny", "Action": "server:Delete", "Resource": "arn:rowguard:default:local:123:server/1"}
    /// ]"#)?;
    /// let decision = auth.policy_decision(&mut conn, &agent(), "server:Delete", "arn:rowguard:default:local:123:server/1")?;
    /// assert!(!decision.allowed);
    /// assert_eq!(
    ///     decision.to_string(),
    ///     r#"denied: statement 1 (KeepOne) of policy roles "agent" denies server:Delete on arn:rowguard:default:local:123:server/1"#
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn policy_decision<R: PolicyResource + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        action: &str,
        resource: &R,
    ) -> Result<PolicyDecision, Error> {
        if let Some(bypass) = self.bypass(subject) {
            let resource = resource.arn(subject)?.into_owned();
            crate::policy::check_action(action)?;
            return Ok(PolicyDecision {
                allowed: true,
                reason: PolicyReason::Bypass(bypass),
                action: action.to_owned(),
                resource,
            });
        }
        self.statements_decision(conn, subject, action, resource)
    }

    /// The decision of the subject's statements alone, whatever bypasses rules for it: what
    /// is decided with RBAC ([`with_rbac`]) asks this, so that absolute rights grant no
    /// permission key or job their roles do not hold, and a `Deny` binds them too.
    pub fn statements_decision<R: PolicyResource + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        action: &str,
        resource: &R,
    ) -> Result<PolicyDecision, Error> {
        let resource = resource.arn(subject)?;
        crate::policy::check_action(action)?;
        let decided = |allowed, reason| PolicyDecision {
            allowed,
            reason,
            action: action.to_owned(),
            resource: resource.clone().into_owned(),
        };
        let policy = self.policy(conn, subject)?;
        if let Some(broken) = BrokenPolicy::refusing(&policy.broken) {
            return Ok(decided(false, PolicyReason::Broken(broken.clone())));
        }
        let decision = policy.policy.decide(action, &resource)?;
        let reason = match decision.reason {
            Reason::Denied(i) => PolicyReason::Denied(policy.origins[i].clone()),
            Reason::Allowed(i) => PolicyReason::Allowed(policy.origins[i].clone()),
            Reason::NoMatch => PolicyReason::NoMatch,
        };
        Ok(decided(decision.allowed, reason))
    }

    /// Whether `subject` holds the permission key `key` (`jobs.command.run`): its RBAC roles
    /// (`rbac_allows`, which the caller asked of the RBAC model) and its policies together,
    /// as [`with_rbac`] says. In statements a key is the action `rowguard:<key>` on
    /// `arn:rowguard:rowguard:<region>:<account>:permission/<key>` (see [`ServiceResource`]),
    /// so `{"Effect": "Allow", "Action": "rowguard:jobs.*", "Resource": "*"}` grants every
    /// `jobs.` key and a `Deny` of one refuses it whatever the roles hold.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[
    ///     {"Effect": "Allow", "Action": "rowguard:rules.*", "Resource": "*"},
    ///     {"Effect": "Deny", "Action": "rowguard:rules.write", "Resource": "*"}
    /// ]"#)?;
    /// assert!(auth.has_permission(&mut conn, &agent(), "rules.read", false)?);
    /// assert!(!auth.has_permission(&mut conn, &agent(), "rules.write", true)?);
    /// assert!(auth.has_permission(&mut conn, &agent(), "jobs.read", true)?); // RBAC's answer
    /// # Ok(())
    /// # }
    /// ```
    pub fn has_permission(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        key: &str,
        rbac_allows: bool,
    ) -> Result<bool, Error> {
        let resource = ServiceResource::new("rowguard", "permission", Some(key));
        let action = format!("rowguard:{key}");
        Ok(self
            .rbac_decision(conn, subject, &action, &resource, rbac_allows)?
            .allowed)
    }

    /// What `policies try` and `explain` answer, as the decision is really made: for a
    /// permission key of the service (`rowguard:<key>`) the statements and then `graph`'s
    /// roles ([`Authorizer::rbac_decision`]) on the key's own ARN (the one the service
    /// asks about, whatever `resource` says); for anything else the policies
    /// ([`Authorizer::policy_decision`]). `jobs:Run` needs the commands' settings:
    /// `JobsConfig::run_decision` (feature `jobs`).
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// let graph = rowguard::rbac::load(&mut conn)?; // no role holds any key here
    /// let arn = "arn:rowguard:rowguard:local:default:permission/users.manage";
    /// let d = auth.try_decision(&mut conn, &agent(), "rowguard:users.manage", arn, &graph)?;
    /// assert_eq!(d.to_string(), format!("denied: no statement names rowguard:users.manage on {arn}, and the subject's roles do not grant it"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_decision(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        action: &str,
        resource: &str,
        graph: &crate::rbac::RbacGraph,
    ) -> Result<PolicyDecision, Error> {
        match action.split_once(':') {
            Some((service, key)) if service.eq_ignore_ascii_case("rowguard") => {
                // The question's resource must still be one resource (no wildcard).
                crate::policy::Arn::parse(resource)?;
                let key = key.to_ascii_lowercase();
                let roles: Vec<&str> = subject.set("roles").collect();
                let held = graph.role_can(&roles, &key);
                let own = ServiceResource::new("rowguard", "permission", Some(&key));
                self.rbac_decision(conn, subject, &format!("rowguard:{key}"), &own, held)
            }
            _ => self.policy_decision(conn, subject, action, resource),
        }
    }

    /// The decision on something RBAC decides too (a permission key of the service, a
    /// command), as it is made: the statements first, which absolute rights and the
    /// override do not bypass (a `Deny` refuses, an `Allow` grants); where none speaks,
    /// `rbac_allows` (whether the subject's roles grant it), as [`PolicyReason::Roles`].
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// use rowguard::guard::{PolicyReason, ServiceResource};
    /// let key = ServiceResource::new("rowguard", "permission", Some("users.manage"));
    /// let admin = agent().with_absolute_rights();
    /// let d = auth.rbac_decision(&mut conn, &admin, "rowguard:users.manage", &key, true)?;
    /// assert_eq!((d.allowed, d.reason), (true, PolicyReason::Roles(true)));
    /// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[{"Effect": "Deny",
    ///     "Action": "rowguard:users.manage", "Resource": "*"}]"#)?;
    /// let d = auth.rbac_decision(&mut conn, &admin, "rowguard:users.manage", &key, true)?;
    /// assert!(!d.allowed, "{d}"); // absolute rights do not bypass a Deny here
    /// # Ok(())
    /// # }
    /// ```
    pub fn rbac_decision<R: PolicyResource + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        action: &str,
        resource: &R,
        rbac_allows: bool,
    ) -> Result<PolicyDecision, Error> {
        let decision = self.statements_decision(conn, subject, action, resource)?;
        Ok(match decision.reason {
            PolicyReason::NoMatch | PolicyReason::Bypass(_) => PolicyDecision {
                allowed: rbac_allows,
                reason: PolicyReason::Roles(rbac_allows),
                ..decision
            },
            _ => decision,
        })
    }

    /// Whether `subject` may do `action` (`service:Verb`) on `resource` under its policies:
    /// an explicit `Deny` wins, else any `Allow`, else no. A wildcard in the action or the
    /// resource is an error, never an answer.
    ///
    /// ```
    /// # include!("../../docs/doctest_setup.rs");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (auth, mut conn) = setup()?;
    /// rowguard::store::put_policy(&mut conn, "roles", "agent", r#"[
    ///     {"Effect": "Allow", "Action": "server:List", "Resource": "arn:rowguard:default:local:123:server"}
    /// ]"#)?;
    /// let server = "arn:rowguard:default:local:123:server";
    /// assert!(auth.is_allowed(&mut conn, &agent(), "server:List", server)?);
    /// assert!(!auth.is_allowed(&mut conn, &agent(), "server:Delete", server)?);
    /// let err = auth.is_allowed(&mut conn, &agent(), "server:*", server).unwrap_err();
    /// assert_eq!(err.to_string(), r#"a check names a wildcard action "server:*": checks take one action on one resource"#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_allowed<R: PolicyResource + ?Sized>(
        &self,
        conn: &mut dyn StoreConnection,
        subject: &Subject,
        action: &str,
        resource: &R,
    ) -> Result<bool, Error> {
        Ok(self
            .policy_decision(conn, subject, action, resource)?
            .allowed)
    }
}
