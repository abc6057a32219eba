//! What a simulation plays: one Spark job over a number of steps.
//!
//! A job starts with its initial executors. Each later step may bring a spot
//! interruption (a spot node of the job is reclaimed with every executor on
//! it, and Spark asks for as many replacements, with new IDs) and, with
//! dynamic allocation, a change of the job's size drawn from a seeded
//! pattern. [`Scenario::validate`] refuses values that cannot describe a
//! job, naming the option and the accepted range.

use thiserror::Error;

/// How the job's spot ratio reaches the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RatioSource {
    /// As the policy setting `defaultSpotRatio`.
    Settings,
    /// As the executor pod annotation `spot-balancer.io/spot-ratio`, as
    /// Spark sets it from `spark.kubernetes.executor.annotation.*`.
    Annotation,
}

/// The job's dynamic allocation, when enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicAllocation {
    /// Fewest executors the job shrinks to.
    pub min_executors: u64,
    /// Most executors the job grows to.
    pub max_executors: u64,
    /// Largest change of the job's size in one step.
    pub max_change: u64,
}

/// A simulated Spark job and what happens to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Namespace of the executor pods.
    pub namespace: String,
    /// The job's `spark-app-selector`, which keys its placement sequence.
    pub job: String,
    /// Executors created at the start, with IDs `1..=executors`.
    pub executors: u64,
    /// The job's spot ratio, from 0 to 1.
    pub ratio: f64,
    /// How the ratio is given to the policy.
    pub ratio_source: RatioSource,
    /// Executors per node: an interruption takes out at most this many.
    pub node_size: u64,
    /// How many spot interruptions happen.
    pub interruptions: u64,
    /// Steps between two interruptions; the first comes at this step.
    pub interruption_interval: u64,
    /// Steps after the initial creation.
    pub steps: u64,
    /// Dynamic allocation, or `None` for a job of fixed size.
    pub dynamic_allocation: Option<DynamicAllocation>,
    /// Seed of every random choice: which node is reclaimed, how the job
    /// grows and shrinks, which executors leave.
    pub seed: u64,
}

/// Why a scenario cannot be played.
#[derive(Debug, Error, PartialEq)]
pub enum ScenarioError {
    /// A count that must be positive is zero.
    #[error("{option}: expected a whole number of at least 1, got 0")]
    Zero {
        /// The option, as spelt on the command line.
        option: &'static str,
    },

    /// The ratio is outside `0..=1` or not a number.
    #[error("--ratio: expected a number from 0 to 1, got {0}")]
    Ratio(f64),

    /// The interruptions do not fit in the steps.
    #[error(
        "--steps: {interruptions} interruptions every {interval} steps need at least {needed} \
         steps, got {steps}"
    )]
    TooFewSteps {
        /// Interruptions asked for.
        interruptions: u64,
        /// Steps between them.
        interval: u64,
        /// Steps they need.
        needed: u64,
        /// Steps given.
        steps: u64,
    },

    /// The dynamic-allocation bounds do not contain the initial size.
    #[error(
        "--min-executors and --max-executors: expected min <= executors <= max, \
         got {min} <= {executors} <= {max}"
    )]
    Bounds {
        /// Lower bound given.
        min: u64,
        /// Initial executors.
        executors: u64,
        /// Upper bound given.
        max: u64,
    },

    /// A scenario so large it would run for hours.
    #[error("{option}: at most {limit}, got {value}")]
    TooLarge {
        /// The option, as spelt on the command line.
        option: &'static str,
        /// The largest value accepted.
        limit: u64,
        /// The value given.
        value: u64,
    },
}

/// Most executors a job may have at once; a Spark job of more is unheard of,
/// and each one costs an evaluation.
pub const MAX_EXECUTORS: u64 = 100_000;

/// Most steps a scenario may have.
pub const MAX_STEPS: u64 = 100_000;

impl Scenario {
    /// Checks that the scenario describes a job that can be played.
    ///
    /// # Errors
    ///
    /// The first [`ScenarioError`] found, naming its option.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (option, value) in [
            ("--executors", self.executors),
            ("--node-size", self.node_size),
            ("--interruption-interval", self.interruption_interval),
        ] {
            if value == 0 {
                return Err(ScenarioError::Zero { option });
            }
        }
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(ScenarioError::Ratio(self.ratio));
        }
        for (option, value, limit) in [
            ("--executors", self.executors, MAX_EXECUTORS),
            ("--steps", self.steps, MAX_STEPS),
        ] {
            if value > limit {
                return Err(ScenarioError::TooLarge {
                    option,
                    limit,
                    value,
                });
            }
        }

        let needed = self
            .interruptions
            .saturating_mul(self.interruption_interval);
        if needed > self.steps {
            return Err(ScenarioError::TooFewSteps {
                interruptions: self.interruptions,
                interval: self.interruption_interval,
                needed,
                steps: self.steps,
            });
        }

        if let Some(dynamic) = &self.dynamic_allocation {
            if dynamic.min_executors > self.executors || self.executors > dynamic.max_executors {
                return Err(ScenarioError::Bounds {
                    min: dynamic.min_executors,
                    executors: self.executors,
                    max: dynamic.max_executors,
                });
            }
            if dynamic.max_executors > MAX_EXECUTORS {
                return Err(ScenarioError::TooLarge {
                    option: "--max-executors",
                    limit: MAX_EXECUTORS,
                    value: dynamic.max_executors,
                });
            }
        }
        Ok(())
    }

    /// Whether step `step` (from 1) brings an interruption.
    pub fn interrupts_at(&self, step: u64) -> bool {
        self.interruption_interval > 0
            && step % self.interruption_interval == 0
            && step / self.interruption_interval <= self.interruptions
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rstest::rstest;

    /// A valid 200-executor job with 4 interruptions, one every 2 steps.
    pub(crate) fn scenario() -> Scenario {
        Scenario {
            namespace: "spark-jobs".into(),
            job: "spark-sim".into(),
            executors: 200,
            ratio: 0.5,
            ratio_source: RatioSource::Settings,
            node_size: 8,
            interruptions: 4,
            interruption_interval: 2,
            steps: 10,
            dynamic_allocation: None,
            seed: 1,
        }
    }

    #[test]
    fn a_plain_job_is_valid() {
        assert_eq!(scenario().validate(), Ok(()));
    }

    #[rstest]
    #[case::no_executors(Scenario { executors: 0, ..scenario() }, "--executors: expected a whole number of at least 1, got 0")]
    #[case::empty_nodes(Scenario { node_size: 0, ..scenario() }, "--node-size: expected a whole number of at least 1, got 0")]
    #[case::ratio_above_one(Scenario { ratio: 1.5, ..scenario() }, "--ratio: expected a number from 0 to 1, got 1.5")]
    #[case::ratio_nan(Scenario { ratio: f64::NAN, ..scenario() }, "--ratio: expected a number from 0 to 1, got NaN")]
    #[case::too_few_steps(
        Scenario { steps: 7, ..scenario() },
        "--steps: 4 interruptions every 2 steps need at least 8 steps, got 7"
    )]
    #[case::huge_job(Scenario { executors: 200_000, ..scenario() }, "--executors: at most 100000, got 200000")]
    #[case::bounds(
        Scenario {
            dynamic_allocation: Some(DynamicAllocation { min_executors: 250, max_executors: 400, max_change: 10 }),
            ..scenario()
        },
        "--min-executors and --max-executors: expected min <= executors <= max, got 250 <= 200 <= 400"
    )]
    fn refuses_impossible_jobs(#[case] scenario: Scenario, #[case] message: &str) {
        assert_eq!(scenario.validate().unwrap_err().to_string(), message);
    }

    #[test]
    fn interruptions_come_every_interval_until_the_count() {
        let steps: Vec<u64> = (1..=10).filter(|&s| scenario().interrupts_at(s)).collect();
        assert_eq!(steps, [2, 4, 6, 8]);
    }
}
