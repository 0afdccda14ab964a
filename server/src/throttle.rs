//! Failed-login throttling per user name and per client address, in this instance's memory.
//!
//! Each instance counts on its own: with N instances behind a balancer an attacker gets at
//! most N times the allowance. Counting in memory keeps a flood of failures off the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept per map before expired ones are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failures in fixed windows.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    per_name: u32,
    per_address: u32,
    names: Mutex<HashMap<String, Window>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

fn remaining<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Window>>,
    key: &K,
    limit: u32,
    window: Duration,
) -> Option<Duration> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    let w = map.get(key)?;
    let elapsed = w.started.elapsed();
    (elapsed < window && w.failures >= limit).then(|| window - elapsed)
}

fn count<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Window>>, key: K, window: Duration) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= SWEEP_AT {
        map.retain(|_, w| w.started.elapsed() < window);
    }
    let now = Instant::now();
    let w = map.entry(key).or_insert(Window {
        started: now,
        failures: 0,
    });
    if w.started.elapsed() >= window {
        *w = Window {
            started: now,
            failures: 0,
        };
    }
    w.failures = w.failures.saturating_add(1);
}

impl Throttle {
    /// A throttle allowing `per_name` failures per user name and `per_address` per client
    /// address within `window`.
    pub fn new(window: Duration, per_name: u32, per_address: u32) -> Self {
        Self {
            window,
            per_name,
            per_address,
            names: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// How long until a login for `name` from `address` may be tried again, if it may not
    /// now.
    pub fn blocked(&self, name: &str, address: IpAddr) -> Option<Duration> {
        let by_name = remaining(&self.names, &name.to_owned(), self.per_name, self.window);
        let by_address = remaining(&self.addresses, &address, self.per_address, self.window);
        by_name.max(by_address)
    }

    /// Counts a failed login.
    pub fn failed(&self, name: &str, address: IpAddr) {
        count(&self.names, name.to_owned(), self.window);
        count(&self.addresses, address, self.window);
    }

    /// A successful login clears the name's count (not the address's: one right password
    /// must not reset an address that is guessing others).
    pub fn succeeded(&self, name: &str) {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_and_an_address_are_limited_separately() {
        let t = Throttle::new(Duration::from_secs(60), 2, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        t.failed("ann", a);
        assert!(t.blocked("ann", a).is_none());
        t.failed("ann", b);
        assert!(t.blocked("ann", a).is_some(), "two failures for ann");
        assert!(t.blocked("bob", b).is_none());
        t.failed("bob", a);
        assert!(t.blocked("carl", a).is_none(), "two failures from a");
        t.failed("dan", a);
        assert!(t.blocked("carl", a).is_some(), "three failures from a");
        assert!(t.blocked("carl", b).is_none());
        t.succeeded("ann");
        assert!(t.blocked("ann", b).is_none());
    }

    #[test]
    fn the_window_ends() {
        let t = Throttle::new(Duration::from_millis(1), 1, 1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        t.failed("ann", a);
        std::thread::sleep(Duration::from_millis(5));
        assert!(t.blocked("ann", a).is_none());
    }
}
