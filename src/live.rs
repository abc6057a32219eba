//! The live-count rule: steer a job back to its ratio after interruptions.
//!
//! The sequence keeps the executors a job *creates* within one of the
//! target, but a spot interruption removes spot executors only, and their
//! replacements follow the sequence, so the executors that are *alive* drift
//! below the spot share. Given the job's live counts, the rule is: if the
//! live spot count is more than one executor away from `r * (live + 1)`,
//! place the new executor on the side that corrects it; otherwise take the
//! sequence's answer.
//!
//! The rule only corrects; it never makes a deviation worse. Call
//! `spot - r * live` the deviation. With exact, current counts a job whose
//! deviation is between -1 and +2 stays there after the admission (a pick
//! near the target is the sequence's, and a spot pick just under `1 + r`
//! above it lands just under +2); a job outside that band moves toward it,
//! by `1 - r` when it has too few on spot and by `r` when it has too many.
//! Counts taken while other executors of the job are being admitted can
//! be stale by those executors, and the bound widens by as many.
//!
//! The math is integer-only and total.

use crate::placement::Capacity;
use crate::ratio::{DENOMINATOR, Ratio};

/// A job's executors that are alive now, by capacity, not counting the pod
/// being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveCounts {
    /// Executors running, or about to run, on spot capacity.
    pub spot: u64,
    /// Executors on on-demand capacity.
    pub on_demand: u64,
}

impl LiveCounts {
    /// Both counts together.
    pub fn total(self) -> u64 {
        self.spot.saturating_add(self.on_demand)
    }
}

/// The capacity for a new executor whose sequence answer is `sequence`,
/// in a job with `ratio` and live executors `live`. Returns the capacity
/// and whether the live counts overrode the sequence.
pub fn steer(sequence: Capacity, ratio: Ratio, live: LiveCounts) -> (Capacity, bool) {
    let q = i128::from(DENOMINATOR);
    let after = i128::from(live.total()) + 1;
    // How far the spot count is from the target once this pod is counted,
    // in millionths of an executor: S*q - p*(L+1).
    let surplus = i128::from(live.spot) * q - i128::from(ratio.millionths()) * after;
    if surplus > q {
        (Capacity::OnDemand, sequence != Capacity::OnDemand)
    } else if surplus < -q {
        (Capacity::Spot, sequence != Capacity::Spot)
    } else {
        (sequence, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::Capacity::{OnDemand, Spot};
    use rstest::rstest;

    fn live(spot: u64, on_demand: u64) -> LiveCounts {
        LiveCounts { spot, on_demand }
    }

    #[rstest]
    // A new job: nothing alive, the sequence decides.
    #[case(Spot, 500_000, live(0, 0), (Spot, false))]
    #[case(OnDemand, 500_000, live(0, 0), (OnDemand, false))]
    // 10 alive, 5 spot at 0.5: target for 11 is 5.5, within one.
    #[case(OnDemand, 500_000, live(5, 5), (OnDemand, false))]
    // After an interruption took 4 spot: 1 spot of 6, target 3.5.
    #[case(OnDemand, 500_000, live(1, 5), (Spot, true))]
    #[case(Spot, 500_000, live(1, 5), (Spot, false))]
    // Too many spot: 8 of 10, target 5.5.
    #[case(Spot, 500_000, live(8, 2), (OnDemand, true))]
    // Exactly one away is not more than one: 2 spot of 3 at 0.25 (target 1).
    #[case(Spot, 250_000, live(2, 1), (Spot, false))]
    // Ratios 0 and 1 hold their side once the counts drift.
    #[case(Spot, 0, live(2, 0), (OnDemand, true))]
    #[case(OnDemand, 1_000_000, live(0, 2), (Spot, true))]
    fn corrects_only_beyond_one_executor(
        #[case] sequence: Capacity,
        #[case] millionths: u32,
        #[case] counts: LiveCounts,
        #[case] expected: (Capacity, bool),
    ) {
        let ratio = Ratio::from_millionths(millionths).unwrap();
        assert_eq!(steer(sequence, ratio, counts), expected);
    }

    #[test]
    fn extreme_counts_get_an_answer() {
        for ratio in [Ratio::ZERO, Ratio::ONE] {
            for counts in [
                live(u64::MAX, u64::MAX),
                live(u64::MAX, 0),
                live(0, u64::MAX),
            ] {
                let _ = steer(Spot, ratio, counts);
            }
        }
    }

    #[test]
    fn repeated_admissions_converge_to_within_one() {
        // From a job that lost all its spot executors, every new executor
        // is steered until the live share is within one of the target.
        for millionths in [100_000, 333_333, 500_000, 700_000, 900_000] {
            let ratio = Ratio::from_millionths(millionths).unwrap();
            let mut counts = live(0, 40);
            for _ in 0..1_000 {
                match steer(OnDemand, ratio, counts).0 {
                    Spot => counts.spot += 1,
                    OnDemand => counts.on_demand += 1,
                }
            }
            let target = ratio.as_f64() * counts.total() as f64;
            assert!(
                (counts.spot as f64 - target).abs() <= 1.0,
                "{ratio}: {counts:?}"
            );
        }
    }

    /// The deviation `spot - r * live` in millionths of an executor.
    fn deviation(ratio: Ratio, counts: LiveCounts) -> i128 {
        i128::from(counts.spot) * i128::from(DENOMINATOR)
            - i128::from(ratio.millionths()) * i128::from(counts.total())
    }

    proptest::proptest! {
        /// Whatever the sequence answers: inside the band from -1 to +2 a job
        /// stays inside; outside it, every admission moves it toward the
        /// band by `1 - r` or `r`.
        #[test]
        fn the_band_holds_and_is_returned_to(
            millionths in 0..=DENOMINATOR,
            spot in 0_u64..400,
            on_demand in 0_u64..400,
            sequence_spot: bool,
        ) {
            let ratio = Ratio::from_millionths(millionths).unwrap();
            let counts = live(spot, on_demand);
            let sequence = if sequence_spot { Spot } else { OnDemand };
            let mut after = counts;
            match steer(sequence, ratio, counts).0 {
                Spot => after.spot += 1,
                OnDemand => after.on_demand += 1,
            }
            let q = i128::from(DENOMINATOR);
            let p = i128::from(millionths);
            let (before, now) = (deviation(ratio, counts), deviation(ratio, after));
            if (-q..=2 * q).contains(&before) {
                proptest::prop_assert!((-q..=2 * q).contains(&now), "{before} -> {now}");
            } else if before > 2 * q {
                proptest::prop_assert_eq!(now, before - p);
            } else {
                proptest::prop_assert_eq!(now, before + q - p);
            }
        }
    }
}
