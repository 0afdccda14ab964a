//! The rule cache: compiled, merged rules per (model, subject's sets), bounded, sharded so
//! threads rarely meet on one lock, and kept fresh by `authorization_state.version`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cached::{Cached, SizedCache};

const SHARDS: usize = 16;

/// One shard: key → (epoch the value was computed at, value).
type Shard<V> = Mutex<SizedCache<String, (u64, Arc<V>)>>;

/// A bounded cache whose entries all go stale together when the epoch moves.
pub struct RuleCache<V> {
    shards: Vec<Shard<V>>,
    epoch: AtomicU64,
    version: AtomicI64,
    started: Instant,
    next_check_ms: AtomicU64,
    interval: Duration,
}

impl<V> RuleCache<V> {
    /// A cache of at most about `capacity` entries, checking the version every `interval`.
    pub fn new(capacity: usize, interval: Duration) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(SizedCache::with_size(per_shard)))
                .collect(),
            epoch: AtomicU64::new(0),
            version: AtomicI64::new(i64::MIN),
            started: Instant::now(),
            next_check_ms: AtomicU64::new(0),
            interval,
        }
    }

    fn shard(&self, key: &str) -> &Shard<V> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// The entry for `key`, if present and current.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match shard.cache_get(key) {
            Some((e, v)) if *e == epoch => Some(v.clone()),
            _ => None,
        }
    }

    /// Stores `value` for `key`, computed at `epoch` (stale at once if the epoch moved).
    pub fn insert(&self, key: String, epoch: u64, value: Arc<V>) {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        shard.cache_set(key, (epoch, value));
    }

    /// The current epoch (read it before computing an entry).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Makes every entry stale (rowguard's own writes call this).
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the version is due for a check; at most one caller per interval gets `true`.
    pub fn version_check_due(&self) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        let due = self.next_check_ms.load(Ordering::Acquire);
        now >= due
            && self
                .next_check_ms
                .compare_exchange(
                    due,
                    now + self.interval.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Records the version just read; a change makes every entry stale.
    pub fn observe_version(&self, version: i64) {
        let previous = self.version.swap(version, Ordering::AcqRel);
        if previous != version {
            self.invalidate();
        }
    }

    /// Entries currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).cache_size())
            .sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_invalidated() {
        let cache: RuleCache<u32> = RuleCache::new(32, Duration::from_secs(60));
        for i in 0..1000 {
            cache.insert(format!("k{i}"), cache.epoch(), Arc::new(i));
        }
        assert!(cache.len() <= 32 + SHARDS, "bounded: {}", cache.len());
        cache.insert("x".into(), cache.epoch(), Arc::new(7));
        assert_eq!(cache.get("x").as_deref(), Some(&7));
        cache.invalidate();
        assert!(cache.get("x").is_none());
    }

    #[test]
    fn version_checks_are_rate_limited() {
        let cache: RuleCache<u32> = RuleCache::new(8, Duration::from_secs(60));
        assert!(cache.version_check_due());
        assert!(!cache.version_check_due());
        let every_time: RuleCache<u32> = RuleCache::new(8, Duration::ZERO);
        assert!(every_time.version_check_due() && every_time.version_check_due());
        cache.observe_version(1);
        cache.insert("x".into(), cache.epoch(), Arc::new(1));
        cache.observe_version(1);
        assert!(cache.get("x").is_some(), "same version keeps entries");
        cache.observe_version(2);
        assert!(cache.get("x").is_none(), "a new version drops them");
    }
}
