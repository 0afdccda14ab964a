//! Each thread's front cache: private copies of recent hits of the shared rule cache, so a
//! hit touches no reference count another core uses.

use std::collections::HashMap;
use std::sync::Arc;

use super::access::ModelAccess;
use crate::cache::Stamp;

/// Per thread: recent hits of each authorizer (by id), as private copies.
pub(super) struct FrontEntry {
    pub(super) stamp: Stamp,
    pub(super) model: Box<str>,
    pub(super) sets: Arc<str>,
    pub(super) access: Arc<ModelAccess>,
}

/// Entries a thread keeps before starting over (its working set is a few models × subjects).
const FRONT_CAPACITY: usize = 256;

/// Hashes front-cache keys, which are already well-mixed 64-bit hashes: one multiply instead
/// of SipHash (which cost about a fifth of a hit).
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type FrontMap = HashMap<(u64, u64), FrontEntry, std::hash::BuildHasherDefault<KeyHasher>>;

thread_local! {
    static FRONT: std::cell::RefCell<FrontMap> = std::cell::RefCell::new(FrontMap::default());
}

/// `f` on this thread's entry for `key`, if there is one.
pub(super) fn with_entry<T>(
    key: (u64, u64),
    f: impl FnOnce(&FrontEntry) -> Option<T>,
) -> Option<T> {
    FRONT.with(|front| front.borrow().get(&key).and_then(f))
}

/// Keeps a thread-private copy of a shared cache entry.
pub(super) fn remember(
    key: (u64, u64),
    stamp: Stamp,
    model: &str,
    sets: &Arc<str>,
    access: &ModelAccess,
) {
    FRONT.with(|front| {
        let mut front = front.borrow_mut();
        if front.len() >= FRONT_CAPACITY {
            front.clear();
        }
        front.insert(
            key,
            FrontEntry {
                stamp,
                model: model.into(),
                sets: sets.clone(),
                access: Arc::new(access.private_copy()),
            },
        );
    });
}
