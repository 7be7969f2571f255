//! SplitMix64: the small deterministic generator behind resampling plans, episode seeds,
//! action sampling and the simulated suites' task instances, so runs replay exactly on
//! every platform (and inside Wasm).

/// SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator for `seed` in stream `stream`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = SplitMix(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next_u64();
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Index drawn from unnormalized non-negative `weights` (the last index if they
    /// sum to zero or less).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Mix several numbers into one seed (for per-round, per-episode streams).
    pub fn mix(parts: &[u64]) -> u64 {
        let mut r = SplitMix::new(0x5eed_5eed, parts.len() as u64);
        let mut acc = r.next_u64();
        for p in parts {
            r = SplitMix::new(acc ^ p, *p);
            acc = r.next_u64();
        }
        acc
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// A fair coin.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `k` distinct elements of `items` (`k <= items.len()`), in random order.
    pub fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..items.len()).collect();
        for i in 0..k {
            let j = i + self.below(idx.len() - i);
            idx.swap(i, j);
        }
        idx[..k].iter().map(|&i| items[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_in_range_and_streams_differ() {
        let mut a = SplitMix::new(1, 0);
        let mut b = SplitMix::new(1, 1);
        for _ in 0..100 {
            let x = a.unit();
            assert!((0.0..1.0).contains(&x));
        }
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let mut r = SplitMix::new(9, 0);
        let n = 20_000;
        let ones = (0..n).filter(|_| r.weighted(&[1.0, 3.0]) == 1).count();
        assert!((ones as f64 / f64::from(n) - 0.75).abs() < 0.02);
        assert_eq!(r.weighted(&[0.0, 0.0]), 1);
    }

    #[test]
    fn mix_separates_streams() {
        assert_ne!(SplitMix::mix(&[1, 2]), SplitMix::mix(&[2, 1]));
        assert_eq!(SplitMix::mix(&[1, 2]), SplitMix::mix(&[1, 2]));
    }

    #[test]
    fn same_seed_and_stream_replay_and_another_stream_differs() {
        let draws = |seed, stream| {
            let mut r = SplitMix::new(seed, stream);
            (0..5).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7, 3), draws(7, 3));
        assert_ne!(draws(7, 3), draws(7, 4));
    }

    #[test]
    fn sample_is_distinct() {
        let mut r = SplitMix::new(1, 0);
        let s = r.sample(&[1, 2, 3, 4, 5, 6], 4);
        let mut d = s.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn range_stays_inside_its_bounds_and_reaches_both() {
        let mut r = SplitMix::new(2, 0);
        let seen: Vec<usize> = (0..200).map(|_| r.range(3, 5)).collect();
        assert!(seen.iter().all(|x| (3..=5).contains(x)));
        assert!(seen.contains(&3) && seen.contains(&5));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..20).collect();
        SplitMix::new(3, 0).shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..20).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
