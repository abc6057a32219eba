//! Plays a Spark job's executors against the policy module.
//!
//! The simulator answers the question the policy exists for: over the life
//! of a job, with spot interruptions and dynamic allocation, how far is the
//! job's live spot share from its target? It creates every executor the
//! job would create, as the CREATE review Spark's pods cause, lets the
//! policy decide each one, tracks the live executors, and sends the
//! DELETE review of each one that leaves where the mode counts them.
//!
//! - [`Scenario`] describes the job and what happens to it;
//! - [`simulate`] is the engine: it plays a scenario through a [`Placer`];
//! - [`PolicyPlacer`] is the placer that evaluates the real module, in the
//!   [`PlacementMode`] chosen (ID-only, Kubernetes or Redis live counts);
//! - [`Report`] holds one row per event, renders as a table or CSV, and
//!   [`write_svg`] draws it;
//! - [`Comparison`] puts the reports of several modes over one scenario
//!   side by side, and [`write_comparison_svg`] draws them on one chart.

mod chart;
mod cluster;
mod comparison;
mod engine;
mod executor_pod;
mod job;
mod placement;
mod policy_placer;
mod random;
mod redis_run;
mod report;
mod scenario;

pub use chart::{ChartError, write_comparison_svg, write_svg};
pub use comparison::{Comparison, ModeRun, RowKey};
pub use engine::{SimulationError, simulate};
pub use executor_pod::{
    CAPACITY_ANNOTATION, RATIO_ANNOTATION, executor_deletion_review, executor_review,
};
pub use placement::{
    Capacity, Decision, Outcome, PlacementError, PlacementMode, Placer, Removal, StoredCounts,
};
pub use policy_placer::PolicyPlacer;
pub use random::SplitMix64;
pub use report::{EventKind, Report, Row};
pub use scenario::{
    DynamicAllocation, MAX_EXECUTORS, MAX_STEPS, RatioSource, Scenario, ScenarioError,
};
