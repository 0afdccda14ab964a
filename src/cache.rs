//! The rule cache: compiled, merged rules per (model, subject's sets), bounded, sharded so
//! threads rarely meet on one lock, and kept fresh by `authorization_state.version`.
//!
//! Every entry carries a [`Stamp`]: the local epoch (bumped by rowguard's own writes) and the
//! database version its rules were read at. An entry is served only while its version is the
//! newest the cache has seen, so rules read by a connection sitting in an old snapshot (an
//! open transaction) never outlive that snapshot: they are not stored at all.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cached::{Cached, SizedCache};

const SHARDS: usize = 16;

/// Writes rowguard itself made to its tables in this process (`put_rule`, `upsert_model`,
/// the seeder, sync-models): part of every cache's epoch, so such a write is in force at once
/// for every authorizer in the process, not only after the next version check.
static STORE_WRITES: AtomicU64 = AtomicU64::new(0);

/// Records a write rowguard made to its own tables (call it after the write committed).
pub fn note_store_write() {
    STORE_WRITES.fetch_add(1, Ordering::AcqRel);
}

/// How many writes to its own tables rowguard has made in this process: each one makes every
/// cached entry stale. For tests that measure cache hits while other threads write.
pub fn store_writes() -> u64 {
    STORE_WRITES.load(Ordering::Acquire)
}

/// How an entry's rules were read: how many of rowguard's own writes the process had made
/// before, and whether the connection was inside a transaction (possibly an old snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// [`store_writes`] before the read.
    pub writes: u64,
    /// The connection was inside a transaction.
    pub in_snapshot: bool,
    /// That transaction wrote to rowguard's tables: nothing read there is kept or observed.
    pub dirty: bool,
}

impl Reading {
    /// How rules are about to be read on `conn`: take it before the reads.
    pub fn now(conn: &mut dyn crate::db::StoreConnection) -> Self {
        Self {
            writes: store_writes(),
            in_snapshot: crate::db::in_transaction(conn),
            dirty: crate::db::dirty(conn),
        }
    }
}

/// When an entry was computed: the local epoch and the database version of its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// [`RuleCache::epoch`] when the computation started.
    pub epoch: u64,
    /// `authorization_state.version` in the snapshot the rules were read from.
    pub version: i64,
}

/// What a slot holds: when it was computed, its full key, the value.
struct Slot<V> {
    stamp: Stamp,
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
    /// The newest database version seen; never goes back.
    newest: AtomicI64,
    /// The most of rowguard's own writes known to be reflected in a version read outside
    /// any transaction: rules read in a snapshot are stored only if no write came since.
    confirmed: AtomicU64,
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
            newest: AtomicI64::new(i64::MIN),
            confirmed: AtomicU64::new(0),
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
    pub fn get(&self, hash: u64, model: &str, sets: &Arc<str>) -> Option<(Stamp, Arc<V>)> {
        let mut shard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        match shard.cache_get(&hash) {
            Some(slot)
                if self.is_current(slot.stamp)
                    && &*slot.model == model
                    && (Arc::ptr_eq(&slot.sets, sets) || slot.sets == *sets) =>
            {
                Some((slot.stamp, slot.value.clone()))
            }
            _ => None,
        }
    }

    /// Whether an entry computed at `stamp` may still be served: no local invalidation
    /// since, and no newer database version seen.
    #[inline]
    pub fn is_current(&self, stamp: Stamp) -> bool {
        stamp.epoch == self.epoch() && stamp.version >= self.newest.load(Ordering::Acquire)
    }

    /// Stores `value` for (`model`, `sets`), computed at `stamp`. A value that is not
    /// current (its rules come from an older snapshot, or the epoch moved while it was
    /// computed) is not stored: it would replace a fresher entry, and could never be served.
    /// Nor is one read inside a transaction after a write of rowguard's that no version read
    /// outside a transaction has confirmed yet: its snapshot may predate that write, which
    /// moved the epoch but not (yet) the version this cache knows. Returns whether it was
    /// stored.
    pub fn insert(
        &self,
        hash: u64,
        model: &str,
        sets: Arc<str>,
        (stamp, reading): (Stamp, Reading),
        value: Arc<V>,
    ) -> bool {
        if reading.dirty
            || !self.is_current(stamp)
            || (reading.in_snapshot && reading.writes > self.confirmed.load(Ordering::Acquire))
        {
            return false;
        }
        let mut shard = self.shard(hash).lock().unwrap_or_else(|p| p.into_inner());
        shard.cache_set(
            hash,
            Slot {
                stamp,
                model: model.into(),
                sets,
                value,
            },
        );
        true
    }

    /// The current epoch (read it before computing an entry): this cache's invalidations
    /// plus the process's own writes to rowguard's tables (both only grow, so any of them
    /// changes the sum).
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch
            .load(Ordering::Acquire)
            .wrapping_add(STORE_WRITES.load(Ordering::Acquire))
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

    /// Records a version just read. A newer one makes every older entry stale. An older one
    /// changes nothing when it may come from an old snapshot (`in_snapshot`: the connection
    /// is inside a transaction); read outside any transaction it means the database went
    /// back (a restore, a reset of the counter), and everything cached is dropped.
    pub fn observe_version(&self, version: i64, reading: Reading) {
        if reading.dirty {
            // A version no other connection may ever see.
            return;
        }
        if !reading.in_snapshot {
            // Every write of rowguard's noted before this read committed before it.
            self.confirmed.fetch_max(reading.writes, Ordering::AcqRel);
        }
        let previous = self.newest.fetch_max(version, Ordering::AcqRel);
        if version < previous
            && !reading.in_snapshot
            && self
                .newest
                .compare_exchange(previous, version, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // Lowered only from the value just seen: a newer version observed meanwhile wins.
            self.invalidate();
        }
    }

    /// The newest database version seen (`i64::MIN` before the first).
    pub fn newest_version(&self) -> i64 {
        self.newest.load(Ordering::Acquire)
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

    const OUTSIDE: Reading = Reading {
        writes: 0,
        in_snapshot: false,
        dirty: false,
    };
    const SNAPSHOT: Reading = Reading {
        writes: 0,
        in_snapshot: true,
        dirty: false,
    };

    fn at(cache: &RuleCache<u32>, version: i64) -> Stamp {
        Stamp {
            epoch: cache.epoch(),
            version,
        }
    }

    #[test]
    fn bounded_and_invalidated() {
        let cache: RuleCache<u32> = RuleCache::new(32, Duration::from_secs(60));
        let sets: Arc<str> = Arc::from("roles");
        for i in 0..1000u64 {
            let model = format!("m{i}");
            let h = RuleCache::<u32>::hash(&model, 1);
            cache.insert(
                h,
                &model,
                sets.clone(),
                (at(&cache, 0), OUTSIDE),
                Arc::new(i as u32),
            );
        }
        assert!(cache.len() <= 32 + SHARDS, "bounded: {}", cache.len());
        let h = RuleCache::<u32>::hash("x", 1);
        assert!(cache.insert(h, "x", sets.clone(), (at(&cache, 0), OUTSIDE), Arc::new(7)));
        assert_eq!(cache.get(h, "x", &sets).map(|(_, v)| *v), Some(7));
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
    }

    #[test]
    fn entries_live_only_while_their_version_is_the_newest() {
        let cache: RuleCache<u32> = RuleCache::new(8, Duration::from_secs(60));
        let sets: Arc<str> = Arc::from("");
        let h = RuleCache::<u32>::hash("x", 0);
        cache.observe_version(1, OUTSIDE);
        assert!(cache.insert(h, "x", sets.clone(), (at(&cache, 1), OUTSIDE), Arc::new(1)));
        cache.observe_version(1, OUTSIDE);
        assert!(cache.get(h, "x", &sets).is_some(), "same version keeps it");
        cache.observe_version(2, OUTSIDE);
        assert!(
            cache.get(h, "x", &sets).is_none(),
            "a newer version drops it"
        );
        // A connection in an old snapshot reads version 1 again: nothing goes back.
        cache.observe_version(1, SNAPSHOT);
        assert_eq!(cache.newest_version(), 2);
        assert!(
            !cache.insert(h, "x", sets.clone(), (at(&cache, 1), OUTSIDE), Arc::new(1)),
            "rules read at an older version are not stored"
        );
        assert!(cache.get(h, "x", &sets).is_none());
        assert!(cache.insert(h, "x", sets.clone(), (at(&cache, 2), OUTSIDE), Arc::new(2)));
        assert_eq!(cache.get(h, "x", &sets).map(|(_, v)| *v), Some(2));
        // Computed before a local invalidation: not stored.
        let before = at(&cache, 2);
        cache.invalidate();
        assert!(!cache.insert(h, "x", sets.clone(), (before, OUTSIDE), Arc::new(3)));
        // Outside any transaction, a lower version means the database went back (a restore):
        // entries of the higher version are dropped, the lower one is current again.
        assert!(cache.insert(h, "x", sets.clone(), (at(&cache, 2), OUTSIDE), Arc::new(2)));
        cache.observe_version(1, OUTSIDE);
        assert!(cache.get(h, "x", &sets).is_none());
        assert_eq!(cache.newest_version(), 1);
        assert!(cache.insert(h, "x", sets.clone(), (at(&cache, 1), OUTSIDE), Arc::new(1)));
        assert!(cache.get(h, "x", &sets).is_some());
        // Read in a snapshot after a write of rowguard's that no outside read confirmed: not
        // stored; once a version read outside a transaction confirms it, stored again.
        let after_write = Reading {
            writes: 5,
            in_snapshot: true,
            dirty: false,
        };
        assert!(!cache.insert(
            h,
            "y",
            sets.clone(),
            (at(&cache, 1), after_write),
            Arc::new(9)
        ));
        cache.observe_version(
            1,
            Reading {
                writes: 5,
                in_snapshot: false,
                dirty: false,
            },
        );
        assert!(cache.insert(
            h,
            "y",
            sets.clone(),
            (at(&cache, 1), after_write),
            Arc::new(9)
        ));
    }
}
