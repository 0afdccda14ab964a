//! The draw behind `sampled`: a per-thread xorshift generator. Sampling needs an even spread,
//! not secrecy, and a draw must cost a few instructions on the request path.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Threads started in the same nanosecond still differ by their stack address.
    let local = 0u8;
    (nanos ^ (&local as *const u8 as u64).rotate_left(32)) | 1
}

/// A number in [0, 1).
pub(crate) fn draw() -> f64 {
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_spread_evenly() {
        let n = 100_000;
        let below = (0..n).filter(|_| super::draw() < 0.1).count();
        assert!((9_000..11_000).contains(&below), "{below} of {n} below 0.1");
        assert!((0..n).all(|_| (0.0..1.0).contains(&super::draw())));
    }
}
