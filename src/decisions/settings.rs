//! What the decision log records, per right, and how it writes: the `[decision_log]` section
//! of the configuration and `ROWGUARD_DECISION_LOG`.

use serde::Deserialize;

use crate::rules::Right;

/// What is recorded of one right's decisions.
///
/// ```
/// use rowguard::decisions::Mode;
/// assert_eq!("denials".parse::<Mode>(), Ok(Mode::Denials));
/// assert!("some".parse::<Mode>().unwrap_err().contains("off, denials, sampled or all"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Nothing (the default).
    #[default]
    Off,
    /// Every refusal.
    Denials,
    /// Every refusal, and a share ([`DecisionLogConfig::sample`]) of the allowed decisions.
    Sampled,
    /// Every decision.
    All,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" => Ok(Mode::Off),
            "denials" => Ok(Mode::Denials),
            "sampled" => Ok(Mode::Sampled),
            "all" => Ok(Mode::All),
            other => Err(format!(
                "\"{other}\" is not a decision log mode: off, denials, sampled or all"
            )),
        }
    }
}

/// The `[decision_log]` section: which decisions of guarded writes and explicit checks
/// (`Guard::can`, `Authorizer::allows`) are recorded, and how the log writes them.
///
/// ```
/// use rowguard::decisions::Mode;
/// use rowguard::rules::Right;
///
/// let config = rowguard::Config::from_toml_str(r#"
///     [decision_log]
///     mode = "denials"
///     update = "all"
///     retention_days = 30
/// "#)?;
/// let log = &config.decision_log;
/// assert_eq!((log.mode_of(Right::Delete), log.mode_of(Right::Update)), (Mode::Denials, Mode::All));
/// assert!(log.is_on());
/// assert!(rowguard::Config::from_toml_str("[decision_log]\nsample = 2.0").is_err());
/// # Ok::<(), rowguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionLogConfig {
    /// The mode of every right not named below (default `off`).
    pub mode: Mode,
    /// The mode of create decisions, if not [`DecisionLogConfig::mode`].
    pub create: Option<Mode>,
    /// The mode of read checks (`can(Read)`; scoped reads are filtered, not decided).
    pub read: Option<Mode>,
    /// The mode of update decisions.
    pub update: Option<Mode>,
    /// The mode of delete decisions.
    pub delete: Option<Mode>,
    /// Under `sampled`, the share of allowed decisions recorded (0 < sample ≤ 1; default 0.01).
    pub sample: f64,
    /// Decisions older than this many days are deleted (0: kept however old; at most
    /// 36,500; default 90).
    pub retention_days: u64,
    /// At most this many decisions are kept, the oldest deleted first (0: no limit; at most
    /// 10^12; default 10,000,000).
    pub max_rows: u64,
    /// Decisions one thread may have waiting to be written; when its buffer is full, new ones
    /// are counted, not kept, and the count is written as a `lost` row (default 10,000).
    pub queue: usize,
    /// Most decisions written by one statement (1–1,000; default 500).
    pub batch: usize,
    /// How long a decision may wait before it is written, in ms (default 1,000).
    pub flush_ms: u64,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            create: None,
            read: None,
            update: None,
            delete: None,
            sample: 0.01,
            retention_days: 90,
            max_rows: 10_000_000,
            queue: 10_000,
            batch: 500,
            flush_ms: 1_000,
        }
    }
}

/// Most decisions in one INSERT: 12 binds each stays under every backend's limit.
pub const MAX_BATCH: usize = 1_000;

/// The longest retention in days (a century); 0 keeps everything.
pub const MAX_RETENTION_DAYS: u64 = 36_500;

/// The largest row limit (a trillion; 0 is no limit). Bounded so that it is a valid SQL
/// offset everywhere: a value past `i64::MAX` would wrap to a negative offset, which SQLite
/// reads as 0.
pub const MAX_ROWS: u64 = 1_000_000_000_000;

impl DecisionLogConfig {
    /// The mode in force for `right`.
    pub fn mode_of(&self, right: Right) -> Mode {
        let named = match right {
            Right::Create => self.create,
            Right::Read => self.read,
            Right::Update => self.update,
            Right::Delete => self.delete,
        };
        named.unwrap_or(self.mode)
    }

    /// The modes of the four rights, in [`Right::ALL`] order.
    pub fn modes(&self) -> [Mode; 4] {
        Right::ALL.map(|r| self.mode_of(r))
    }

    /// Whether any right is recorded.
    pub fn is_on(&self) -> bool {
        self.modes().iter().any(|m| *m != Mode::Off)
    }

    /// What is wrong with the numbers, naming the key (`None`: nothing).
    pub fn problem(&self) -> Option<String> {
        if !(self.sample > 0.0 && self.sample <= 1.0) {
            return Some(format!(
                "sample = {}: must be more than 0 and at most 1",
                self.sample
            ));
        }
        if self.queue == 0 {
            return Some("queue = 0: must be at least 1".into());
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Some(format!(
                "batch = {}: must be from 1 to {MAX_BATCH}",
                self.batch
            ));
        }
        if self.max_rows > MAX_ROWS {
            return Some(format!(
                "max_rows = {}: must be at most {MAX_ROWS} (0 keeps every row)",
                self.max_rows
            ));
        }
        if self.retention_days > MAX_RETENTION_DAYS {
            return Some(format!(
                "retention_days = {}: must be at most {MAX_RETENTION_DAYS} (0 keeps everything)",
                self.retention_days
            ));
        }
        if self.flush_ms == 0 {
            return Some("flush_ms = 0: must be at least 1".into());
        }
        None
    }

    /// Applies `ROWGUARD_DECISION_LOG`: a mode for every right (`denials`), and/or
    /// `right=mode` pairs (`update=all,delete=denials`), comma-separated.
    ///
    /// ```
    /// use rowguard::decisions::{DecisionLogConfig, Mode};
    /// use rowguard::rules::Right;
    /// let mut log = DecisionLogConfig::default();
    /// log.apply_spec("denials,read=all")?;
    /// assert_eq!(log.modes(), [Mode::Denials, Mode::All, Mode::Denials, Mode::Denials]);
    /// assert!(log.apply_spec("write=all").unwrap_err().contains("\"write\" is not a right"));
    /// # Ok::<(), String>(())
    /// ```
    pub fn apply_spec(&mut self, spec: &str) -> Result<(), String> {
        let mut next = self.clone();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                None => {
                    next.mode = item.parse()?;
                    next.create = None;
                    next.read = None;
                    next.update = None;
                    next.delete = None;
                }
                Some((right, mode)) => {
                    let mode = Some(mode.parse()?);
                    match right.trim() {
                        "create" => next.create = mode,
                        "read" => next.read = mode,
                        "update" => next.update = mode,
                        "delete" => next.delete = mode,
                        other => {
                            return Err(format!(
                                "\"{other}\" is not a right: create, read, update or delete"
                            ))
                        }
                    }
                }
            }
        }
        *self = next;
        Ok(())
    }
}
