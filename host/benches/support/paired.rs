//! Ratios measured in pairs: two modules take turns on one request, in
//! short blocks, so that whatever slows the machine for a while slows both.
//!
//! Criterion measures each case on its own, one after the other; on a
//! shared or virtual machine the cost of the same admission drifts by tens
//! of percent over a minute, and a ratio of two such cases inherits the
//! drift. Here every round times a block of admissions by one module and a
//! block by the other, in alternating order, and keeps the ratio of the two
//! blocks' medians; the result is the median of those ratios and the range
//! of the middle half of them.

use std::time::Instant;

use spot_balancer_host::AdmissionRequest;

use super::{Expect, Module};

/// Rounds per pair: each gives one ratio.
const ROUNDS: usize = 21;

/// Admissions per module in a round.
const BLOCK: usize = 60;

/// One side of a pair: a module and what its answers must be.
pub struct Side<'a> {
    /// The module.
    pub module: &'a Module,
    /// What each answer must be for the timing to count.
    pub expect: Expect,
}

/// The ratio of the second side's time to the first's.
#[derive(Debug, Clone, Copy)]
pub struct PairedRatio {
    /// The median of the rounds' ratios.
    pub median: f64,
    /// The first quartile of the rounds' ratios.
    pub lower: f64,
    /// The third quartile of the rounds' ratios.
    pub upper: f64,
}

/// Measures how long `second` takes on `request` relative to `first`.
///
/// Panics when any answer is not what its side expects: the pair would be
/// measuring another path than the one it is named for.
pub fn ratio(first: &Side, second: &Side, request: &AdmissionRequest) -> PairedRatio {
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let a = block_median(first, request);
            (a, block_median(second, request))
        } else {
            let b = block_median(second, request);
            (block_median(first, request), b)
        };
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    PairedRatio {
        median: ratios[ROUNDS / 2],
        lower: ratios[ROUNDS / 4],
        upper: ratios[ROUNDS * 3 / 4],
    }
}

/// The median time, in seconds, of [`BLOCK`] admissions of `request`.
fn block_median(side: &Side, request: &AdmissionRequest) -> f64 {
    let mut times = Vec::with_capacity(BLOCK);
    for _ in 0..BLOCK {
        let start = Instant::now();
        let response = side.module.admit(request);
        times.push(start.elapsed().as_secs_f64());
        assert!(
            side.expect.holds(&response),
            "expected {:?}, got {response:?}",
            side.expect
        );
    }
    times.sort_by(f64::total_cmp);
    times[BLOCK / 2]
}
