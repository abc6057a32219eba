//! The placement math: which executor of a job goes to spot capacity.
//!
//! Executor `n` of a job with spot ratio `r = p / q` and phase `s` goes to
//! spot when
//!
//! ```text
//! floor((n * p + s) / q) - floor(((n - 1) * p + s) / q) == 1
//! ```
//!
//! This is a Sturmian (Beatty) sequence. The number of spot executors among
//! IDs `a..=b` telescopes to `floor((b*p + s)/q) - floor(((a-1)*p + s)/q)`,
//! which differs from `r * (b - a + 1)` by less than one. So every job, and
//! every contiguous run of its executor IDs, is within one executor of its
//! target, with no state at all.
//!
//! The phase `s` is a stable hash of the job key, so jobs do not all put
//! their first executor on the same side: over many jobs, executor 1 goes to
//! spot with probability exactly `r`, and so does every later position.
//!
//! Every function here is total: all arithmetic is on `i128`, where
//! `u64::MAX * 1_000_000` still fits, and nothing here can panic.

use crate::ratio::{DENOMINATOR, Ratio};
use std::fmt;

/// The kind of capacity an executor is placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// Interruptible, discounted capacity.
    Spot,
    /// Regular capacity that is not taken back.
    OnDemand,
}

impl Capacity {
    /// The name written into the decision annotation: `spot` or `on-demand`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capacity::Spot => "spot",
            Capacity::OnDemand => "on-demand",
        }
    }

    /// The capacity an annotation value names, if it names one.
    pub fn from_name(name: &str) -> Option<Capacity> {
        match name {
            "spot" => Some(Capacity::Spot),
            "on-demand" => Some(Capacity::OnDemand),
            _ => None,
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's offset into the sequence, in `[0, DENOMINATOR)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase(u32);

impl Phase {
    /// The phase of the job identified by `namespace` and `job_id`: the
    /// 64-bit FNV-1a hash of `namespace`, a `/`, and `job_id`, reduced
    /// modulo [`DENOMINATOR`].
    ///
    /// FNV-1a is written down in a few lines and has no seed, so the phase of
    /// a job is the same on every replica, in every release, on every
    /// platform; anyone can recompute it.
    pub fn of_job(namespace: &str, job_id: &str) -> Phase {
        let hash = fnv1a64([namespace.as_bytes(), b"/", job_id.as_bytes()]);
        // The remainder is below DENOMINATOR, so it fits in u32.
        Phase((hash % u64::from(DENOMINATOR)) as u32)
    }

    /// A given phase, reduced modulo [`DENOMINATOR`].
    pub const fn new(value: u32) -> Phase {
        Phase(value % DENOMINATOR)
    }

    /// The phase's value, in `[0, DENOMINATOR)`.
    pub const fn value(self) -> u32 {
        self.0
    }
}

/// The 64-bit FNV-1a hash of the concatenated `parts`.
pub fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .into_iter()
        .flatten()
        .fold(OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
        })
}

/// How many of positions `1..=n` go to spot: `floor((n*p + s) / q) -
/// floor(s / q)`, where `floor(s / q)` is zero because `s < q`.
///
/// Position 0 counts nothing; the sequence is defined for every `u64`.
pub fn spot_count_through(n: u64, ratio: Ratio, phase: Phase) -> u64 {
    let q = i128::from(DENOMINATOR);
    let total = i128::from(n) * i128::from(ratio.millionths()) + i128::from(phase.value());
    // 0 <= total / q <= n, so the quotient fits in u64; the fallback is
    // never taken and only keeps the conversion total.
    u64::try_from(total.div_euclid(q)).unwrap_or(n)
}

/// The capacity of the executor at `position` in a job with `ratio` and
/// `phase`.
pub fn capacity_at(position: u64, ratio: Ratio, phase: Phase) -> Capacity {
    let q = i128::from(DENOMINATOR);
    let p = i128::from(ratio.millionths());
    let s = i128::from(phase.value());
    let here = i128::from(position) * p + s;
    // Euclidean division floors negative values too, so position 0, which
    // Spark never uses, still gets an answer.
    if here.div_euclid(q) - (here - p).div_euclid(q) == 1 {
        Capacity::Spot
    } else {
        Capacity::OnDemand
    }
}

/// The position of a pod that has no usable executor ID: the FNV-1a hash of
/// its name, which is stable for one pod and spread evenly over many.
pub fn position_from_name(name: &str) -> u64 {
    fnv1a64([name.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn ratio(millionths: u32) -> Ratio {
        Ratio::from_millionths(millionths).unwrap()
    }

    /// Spot count minus target over `first..=last`, in millionths of an
    /// executor, counted one position at a time.
    fn window_error(first: u64, last: u64, r: Ratio, phase: Phase) -> i128 {
        let spots = (first..=last)
            .filter(|&n| capacity_at(n, r, phase) == Capacity::Spot)
            .count();
        let length = i128::from(last - first + 1);
        i128::try_from(spots).unwrap() * i128::from(DENOMINATOR)
            - length * i128::from(r.millionths())
    }

    #[test]
    fn every_window_is_within_one_executor_for_many_ratios_and_phases() {
        let ratios = [
            0, 1, 1_000, 100_000, 125_000, 200_000, 333_333, 333_334, 500_000, 618_034, 700_000,
            800_000, 900_000, 999_999, 1_000_000,
        ];
        let phases = [0, 1, 250_000, 499_999, 500_000, 777_777, 999_999];
        for r in ratios.map(ratio) {
            for phase in phases.map(Phase::new) {
                for first in 1..=40 {
                    for last in first..=first + 160 {
                        let error = window_error(first, last, r, phase);
                        assert!(
                            error.abs() < i128::from(DENOMINATOR),
                            "ratio {r}, phase {phase:?}, ids {first}..={last}: error {error}"
                        );
                    }
                }
            }
        }
    }

    #[rstest]
    #[case(0, Capacity::OnDemand)]
    #[case(1_000_000, Capacity::Spot)]
    fn ratios_zero_and_one_are_absolute(#[case] millionths: u32, #[case] side: Capacity) {
        for phase in [0, 1, 999_999].map(Phase::new) {
            for n in [0, 1, 2, 3, 1_000, u64::MAX - 1, u64::MAX] {
                assert_eq!(capacity_at(n, ratio(millionths), phase), side);
            }
        }
    }

    #[rstest]
    #[case(0)]
    #[case(1)]
    #[case(u64::MAX)]
    fn extreme_positions_get_an_answer(#[case] n: u64) {
        for millionths in [0, 1, 500_000, 999_999, 1_000_000] {
            for phase in [0, 999_999].map(Phase::new) {
                let _ = capacity_at(n, ratio(millionths), phase);
                assert!(spot_count_through(n, ratio(millionths), phase) <= n);
            }
        }
    }

    #[test]
    fn first_executors_go_to_spot_at_the_ratio_across_phases() {
        // With the phase uniform over [0, q), executor 1 is spot exactly when
        // s >= q - p: a share of exactly p / q of all phases.
        let r = ratio(300_000);
        let spots = (0..DENOMINATOR)
            .step_by(100)
            .filter(|&s| capacity_at(1, r, Phase::new(s)) == Capacity::Spot)
            .count();
        assert_eq!(spots, 3_000);
    }

    // Values computed independently with a ten-line Python FNV-1a.
    #[rstest]
    #[case("spark", "spark-1a2b", 150_101)]
    #[case("spark", "spark-1a2b3", 885_970)]
    #[case("", "", 205_758)]
    fn job_phase_is_a_documented_hash(#[case] ns: &str, #[case] job: &str, #[case] phase: u32) {
        assert_eq!(Phase::of_job(ns, job).value(), phase);
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64([&b""[..]]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64([&b"a"[..]]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64([&b"foobar"[..]]), 0x8594_4171_f739_67e8);
        assert_eq!(
            fnv1a64([&b"foo"[..], &b"bar"[..]]),
            fnv1a64([&b"foobar"[..]])
        );
    }

    proptest! {
        #[test]
        fn any_window_is_within_one_executor(
            millionths in 0..=DENOMINATOR,
            s in 0..DENOMINATOR,
            first in 1..u64::MAX / 2,
            length in 1..5_000u64,
        ) {
            let (r, phase) = (ratio(millionths), Phase::new(s));
            let last = first + length - 1;
            let error = window_error(first, last, r, phase);
            prop_assert!(error.abs() < i128::from(DENOMINATOR));

            // The closed form agrees with counting one position at a time.
            let closed = spot_count_through(last, r, phase) - spot_count_through(first - 1, r, phase);
            let spots = (first..=last).filter(|&n| capacity_at(n, r, phase) == Capacity::Spot);
            prop_assert_eq!(u64::try_from(spots.count()).unwrap(), closed);
        }

        #[test]
        fn capacity_is_total(n: u64, millionths in 0..=DENOMINATOR, s: u32) {
            let _ = capacity_at(n, ratio(millionths), Phase::new(s));
            prop_assert!(spot_count_through(n, ratio(millionths), Phase::new(s)) <= n);
        }
    }
}
