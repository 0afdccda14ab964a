//! Failed-login throttling per user name and per client address, in this instance's memory.
//!
//! Each instance counts on its own: with N instances behind a balancer an attacker gets at
//! most N times the allowance. Counting in memory keeps a flood of failures off the database.
//! A login counts as a failure *before* its password is checked and is refunded if it
//! succeeds, so parallel guesses cannot all slip past the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys per map. A full map first forgets the keys that are below their limit (and
/// expired ones); keys at their limit are never forgotten before their window ends, so a
/// flood of new names cannot reset a locked-out one. If every key is at its limit, new keys
/// are refused until windows end.
const MAX_KEYS: usize = 100_000;

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

/// The address a client is counted under: IPv6 by its /64 (one customer's block), IPv4 and
/// IPv4-mapped IPv6 by the address.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn lock<K>(map: &Mutex<HashMap<K, Window>>) -> std::sync::MutexGuard<'_, HashMap<K, Window>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long `key` must wait, if its window is full.
fn wait<K: std::hash::Hash + Eq>(
    map: &HashMap<K, Window>,
    key: &K,
    limit: u32,
    window: Duration,
) -> Option<Duration> {
    let w = map.get(key)?;
    let elapsed = w.started.elapsed();
    (elapsed < window && w.failures >= limit).then(|| window - elapsed)
}

/// Counts a failure for `key`; `false` if the map is full of keys at their limit.
fn count<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Window>,
    key: K,
    limit: u32,
    window: Duration,
) -> bool {
    if map.len() >= MAX_KEYS && !map.contains_key(&key) {
        map.retain(|_, w| w.started.elapsed() < window && w.failures >= limit);
        if map.len() >= MAX_KEYS {
            tracing::warn!("login throttle: {MAX_KEYS} keys at their limit; refusing new ones");
            return false;
        }
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
    true
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

    /// A login for `name` from `address`: refused with the time to wait if either is at its
    /// limit; otherwise counted as a failure until [`Throttle::succeeded`] refunds it.
    pub fn attempt(&self, name: &str, address: IpAddr) -> Result<(), Duration> {
        let address = address_key(address);
        // Both maps are locked together so that two logins cannot both take the last slot.
        let mut names = lock(&self.names);
        let mut addresses = lock(&self.addresses);
        let by_name = wait(&names, &name.to_owned(), self.per_name, self.window);
        let by_address = wait(&addresses, &address, self.per_address, self.window);
        if let Some(w) = by_name.max(by_address) {
            return Err(w);
        }
        if !count(&mut names, name.to_owned(), self.per_name, self.window)
            || !count(&mut addresses, address, self.per_address, self.window)
        {
            return Err(self.window);
        }
        Ok(())
    }

    /// A successful login: clears the name's count and refunds the address's one (the other
    /// failures of that address stay: one right password must not reset an address that is
    /// guessing others).
    pub fn succeeded(&self, name: &str, address: IpAddr) {
        lock(&self.names).remove(name);
        if let Some(w) = lock(&self.addresses).get_mut(&address_key(address)) {
            w.failures = w.failures.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn a_name_and_an_address_are_limited_separately() {
        let t = Throttle::new(Duration::from_secs(60), 2, 3);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        assert!(t.attempt("ann", a).is_ok());
        assert!(t.attempt("ann", b).is_ok());
        assert!(t.attempt("ann", a).is_err(), "two failures for ann");
        assert!(
            t.attempt("bob", a).is_ok(),
            "a refused attempt does not count"
        );
        assert!(t.attempt("dan", a).is_ok(), "a: 2 failures so far");
        assert!(t.attempt("carl", a).is_err(), "three failures from a");
        assert!(t.attempt("carl", b).is_ok());
        t.succeeded("ann", b);
        assert!(t.attempt("ann", b).is_ok(), "a success clears the name");
    }

    #[test]
    fn a_success_refunds_its_own_count_only() {
        let t = Throttle::new(Duration::from_secs(60), 10, 2);
        let a = ip("10.0.0.1");
        assert!(t.attempt("ann", a).is_ok());
        t.succeeded("ann", a);
        assert!(t.attempt("bob", a).is_ok());
        assert!(t.attempt("carl", a).is_ok());
        assert!(t.attempt("dan", a).is_err(), "bob and carl failed");
    }

    #[test]
    fn ipv6_counts_by_its_64_prefix() {
        let t = Throttle::new(Duration::from_secs(60), 10, 2);
        assert!(t.attempt("a", ip("2001:db8:1:2::1")).is_ok());
        assert!(t.attempt("b", ip("2001:db8:1:2:ffff::9")).is_ok());
        assert!(t.attempt("c", ip("2001:db8:1:2::77")).is_err());
        assert!(t.attempt("c", ip("2001:db8:1:3::1")).is_ok());
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn the_window_ends() {
        let t = Throttle::new(Duration::from_millis(1), 1, 1);
        let a = ip("10.0.0.1");
        assert!(t.attempt("ann", a).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(t.attempt("ann", a).is_ok());
    }

    #[test]
    fn memory_is_bounded_and_a_flood_does_not_reset_a_lockout() {
        let t = Throttle::new(Duration::from_secs(60), 2, u32::MAX);
        let a = ip("10.0.0.1");
        assert!(t.attempt("victim", a).is_ok());
        assert!(t.attempt("victim", a).is_ok());
        assert!(t.attempt("victim", a).is_err(), "locked out");
        for i in 0..MAX_KEYS + 10 {
            let _ = t.attempt(&format!("user{i}"), a);
        }
        assert!(lock(&t.names).len() <= MAX_KEYS);
        assert!(
            t.attempt("victim", a).is_err(),
            "still locked out after the flood"
        );
    }
}
