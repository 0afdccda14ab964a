//! The rule cache: compiled, merged rules per (model, subject's sets), bounded, sharded so
//! threads rarely meet on one lock, and kept fresh by `authorization_state.version`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cached::{Cached, SizedCache};

const SHARDS: usize = 16;

/// What a slot holds: the epoch it was computed at, its full key, the value.
struct Slot<V> {
    epoch: u64,
    model: Box<str>,
    sets: Arc<str>,
    value: Arc<V>,
}

/// One shard, keyed by the hash of (model, subject's sets); the slot keeps the full key, so a
/// hash collision is a miss, never a wrong answer.
type Shard<V> = Mutex<SizedCache<u64, Slot<V>>>;

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

    /// The slot hash of (`model`, sets with hash `sets_hash`).
    pub fn hash(model: &str, sets_hash: u64) -> u64 {
        // FNV-1a over the (short) model name, mixed with the subject's precomputed hash.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in model.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        (h ^ sets_hash.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn shard(&self, hash: u64) -> &Shard<V> {
        &self.shards[(hash >> 59) as usize % SHARDS]
    }

    /// The entry for (`model`, `sets`), if present and current. `hash` is
    /// [`RuleCache::hash`] of them.
    pub fn get(&self, hash: u64, model: &str, sets: &Arc<str>) -> Option<Arc<V>> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let mut shard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        match shard.cache_get(&hash) {
            Some(slot)
                if slot.epoch == epoch
                    && &*slot.model == model
                    && (Arc::ptr_eq(&slot.sets, sets) || slot.sets == *sets) =>
            {
                Some(slot.value.clone())
            }
            _ => None,
        }
    }

    /// Stores `value` for (`model`, `sets`), computed at `epoch` (stale at once if the epoch
    /// has moved since).
    pub fn insert(&self, hash: u64, model: &str, sets: Arc<str>, epoch: u64, value: Arc<V>) {
        let mut shard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        shard.cache_set(
            hash,
            Slot {
                epoch,
                model: model.into(),
                sets,
                value,
            },
        );
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
        let sets: Arc<str> = Arc::from("roles");
        for i in 0..1000u64 {
            let model = format!("m{i}");
            let h = RuleCache::<u32>::hash(&model, 1);
            cache.insert(h, &model, sets.clone(), cache.epoch(), Arc::new(i as u32));
        }
        assert!(cache.len() <= 32 + SHARDS, "bounded: {}", cache.len());
        let h = RuleCache::<u32>::hash("x", 1);
        cache.insert(h, "x", sets.clone(), cache.epoch(), Arc::new(7));
        assert_eq!(cache.get(h, "x", &sets).as_deref(), Some(&7));
        // Same hash, other key: a miss, not a wrong value.
        assert!(cache.get(h, "y", &sets).is_none());
        assert!(cache.get(h, "x", &Arc::from("groups")).is_none());
        cache.invalidate();
        assert!(cache.get(h, "x", &sets).is_none());
    }

    #[test]
    fn version_checks_are_rate_limited() {
        let cache: RuleCache<u32> = RuleCache::new(8, Duration::from_secs(60));
        assert!(cache.version_check_due());
        assert!(!cache.version_check_due());
        let every_time: RuleCache<u32> = RuleCache::new(8, Duration::ZERO);
        assert!(every_time.version_check_due() && every_time.version_check_due());
        let sets: Arc<str> = Arc::from("");
        let h = RuleCache::<u32>::hash("x", 0);
        cache.observe_version(1);
        cache.insert(h, "x", sets.clone(), cache.epoch(), Arc::new(1));
        cache.observe_version(1);
        assert!(
            cache.get(h, "x", &sets).is_some(),
            "same version keeps entries"
        );
        cache.observe_version(2);
        assert!(
            cache.get(h, "x", &sets).is_none(),
            "a new version drops them"
        );
    }
}
