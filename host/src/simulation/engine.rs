//! The scenario engine: plays a [`Scenario`] through a [`Placer`].
//!
//! Step 0 creates the job's executors with IDs `1..=executors`. Each later
//! step first brings the interruption due at that step, if any: one busy
//! spot node, drawn with the scenario's seed, is reclaimed, and Spark asks
//! for as many replacements, each with the next unused ID. Then, with
//! dynamic allocation, the job's size changes by a seeded amount within its
//! bounds: new executors get new IDs; leaving ones are drawn among the live
//! executors whatever their capacity, as Spark releases idle executors.
//!
//! Every placement goes through the placer, so the policy decides each new
//! executor exactly once, in ID order, and every executor that leaves is
//! passed to the placer before anything replaces it, as the API server
//! sees a pod's deletion before Spark asks for its replacement. At the end
//! the placer reports what its store still counts. The run is a pure
//! function of the scenario and the placer's answers.
//!
//! The random draws do not depend on the answers: an interruption draws
//! one number whether or not the job has a spot node, and the job's size
//! follows the draws alone. So every placer given the same scenario sees
//! the same steps and the same events, only with as many executors on a
//! reclaimed node as its placements put there, and runs of several modes
//! line up by step and event.

use thiserror::Error;

use super::job::Job;
use super::placement::{Capacity, PlacementError, Placer};
use super::random::SplitMix64;
use super::report::{EventKind, Report, Row};
use super::scenario::{Scenario, ScenarioError};

/// Why a simulation stopped.
#[derive(Debug, Error)]
pub enum SimulationError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),

    /// An executor could not be placed.
    #[error("failed to place executor {id}: {source}")]
    Placement {
        /// The executor's ID.
        id: u64,
        /// Why.
        source: PlacementError,
    },

    /// The removal of an executor could not be passed on.
    #[error("failed to remove executor {id}: {source}")]
    Removal {
        /// The executor's ID.
        id: u64,
        /// Why.
        source: PlacementError,
    },

    /// The placer's counts could not be read at the end.
    #[error("failed to finish the run: {0}")]
    Finish(PlacementError),
}

/// A run in progress: the job, the placer and what has been seen.
struct Run<'a> {
    /// The scenario played.
    scenario: &'a Scenario,
    /// Who decides placements.
    placer: &'a mut dyn Placer,
    /// Called after each placement with the number placed so far.
    on_placed: &'a mut dyn FnMut(u64),
    /// The job's live executors.
    job: Job,
    /// The ID the next executor gets.
    next_id: u64,
    /// Executors created so far that went to spot.
    created_spot: u64,
    /// The rows and outcome counts.
    report: Report,
}

impl Run<'_> {
    /// Creates `count` executors with the next IDs.
    fn create(&mut self, count: u64) -> Result<(), SimulationError> {
        for _ in 0..count {
            let id = self.next_id;
            let decision = self
                .placer
                .place(self.scenario, id, &self.job.live_executors())
                .map_err(|source| SimulationError::Placement { id, source })?;
            self.report.count(id, &decision.outcome);
            self.report.count_placement_warnings(id, &decision.warnings);
            if decision.capacity == Capacity::Spot {
                self.created_spot += 1;
            }
            self.job.start(id, decision.capacity);
            self.next_id += 1;
            (self.on_placed)(self.next_id - 1);
        }
        Ok(())
    }

    /// Passes each executor of `ids`, which have left the job, to the
    /// placer.
    fn remove(&mut self, ids: &[u64]) -> Result<(), SimulationError> {
        for &id in ids {
            let removal = self
                .placer
                .remove(self.scenario, id)
                .map_err(|source| SimulationError::Removal { id, source })?;
            self.report.count_removal(id, &removal);
        }
        Ok(())
    }

    /// Records the job's state after `event` changed it by `change`.
    fn record(&mut self, step: u64, event: EventKind, change: i64) {
        let created = self.next_id - 1;
        self.report.rows.push(Row {
            step,
            event,
            change,
            live: self.job.live(),
            live_spot: self.job.live_spot(),
            target_spot: self.scenario.ratio * self.job.live() as f64,
            created,
            created_spot: self.created_spot,
            created_target: self.scenario.ratio * created as f64,
        });
    }
}

/// Plays `scenario`, asking `placer` about every new executor and calling
/// `on_placed` with the count of executors placed after each one.
///
/// # Errors
///
/// [`SimulationError`] when the scenario is invalid or a placement fails.
pub fn simulate(
    scenario: &Scenario,
    placer: &mut dyn Placer,
    on_placed: &mut dyn FnMut(u64),
) -> Result<Report, SimulationError> {
    scenario.validate()?;

    let mut rng = SplitMix64::new(scenario.seed);
    let mut run = Run {
        scenario,
        placer,
        on_placed,
        job: Job::new(scenario.node_size),
        next_id: 1,
        created_spot: 0,
        report: Report::new(scenario.ratio),
    };

    // Step 0: the job's initial executors.
    run.create(scenario.executors)?;
    run.record(0, EventKind::Create, scenario.executors as i64);
    let mut size = scenario.executors;

    for step in 1..=scenario.steps {
        if scenario.interrupts_at(step) {
            // One busy spot node goes; with none busy, nothing is lost.
            let nodes = run.job.busy_spot_nodes();
            let reclaimed = match nodes.get(rng.below(nodes.len() as u64) as usize) {
                Some(&node) => run.job.reclaim(node),
                None => Vec::new(),
            };
            run.remove(&reclaimed)?;
            let lost = reclaimed.len() as u64;
            run.record(step, EventKind::Interrupt, -(lost as i64));
            if lost > 0 {
                run.create(lost)?;
                run.record(step, EventKind::Replace, lost as i64);
            }
        }

        if let Some(dynamic) = &scenario.dynamic_allocation {
            let change = rng.between(-(dynamic.max_change as i64), dynamic.max_change as i64);
            let wanted = size
                .saturating_add_signed(change)
                .clamp(dynamic.min_executors, dynamic.max_executors);
            if wanted > size {
                run.create(wanted - size)?;
                run.record(step, EventKind::Grow, (wanted - size) as i64);
            } else if wanted < size {
                let mut released = Vec::new();
                for _ in 0..size - wanted {
                    let live = run.job.live_ids();
                    if let Some(&id) = live.get(rng.below(live.len() as u64) as usize) {
                        run.job.stop(id);
                        released.push(id);
                    }
                }
                run.remove(&released)?;
                run.record(step, EventKind::Shrink, -((size - wanted) as i64));
            }
            size = wanted;
        }
    }

    run.report.stored = run
        .placer
        .finish(scenario)
        .map_err(SimulationError::Finish)?;
    Ok(run.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::placement::{Decision, Outcome, Removal, StoredCounts};
    use crate::simulation::scenario::DynamicAllocation;
    use crate::simulation::scenario::tests::scenario;

    /// Places odd IDs on spot, like the policy at ratio 0.5 for some phase,
    /// and remembers every ID asked about and every ID removed.
    #[derive(Default)]
    struct OddOnSpot {
        /// IDs asked about, in order.
        asked: Vec<u64>,
        /// IDs removed, in order.
        removed: Vec<u64>,
    }

    impl Placer for OddOnSpot {
        fn place(
            &mut self,
            _: &Scenario,
            id: u64,
            _: &[(u64, Capacity)],
        ) -> Result<Decision, PlacementError> {
            self.asked.push(id);
            let capacity = if id % 2 == 1 {
                Capacity::Spot
            } else {
                Capacity::OnDemand
            };
            Ok(Decision {
                capacity,
                outcome: Outcome::Decided,
                warnings: Vec::new(),
            })
        }

        fn remove(&mut self, _: &Scenario, id: u64) -> Result<Removal, PlacementError> {
            self.removed.push(id);
            Ok(Removal::Reviewed {
                warnings: Vec::new(),
            })
        }

        /// Counts what was placed and not removed.
        fn finish(&mut self, _: &Scenario) -> Result<Option<StoredCounts>, PlacementError> {
            let live = self.asked.iter().filter(|id| !self.removed.contains(id));
            let spot = live.clone().filter(|&&id| id % 2 == 1).count() as u64;
            Ok(Some(StoredCounts {
                spot,
                on_demand: live.count() as u64 - spot,
            }))
        }
    }

    #[test]
    fn interruptions_take_a_node_and_replacements_get_new_ids() {
        let mut placer = OddOnSpot::default();
        let scenario = Scenario {
            executors: 20,
            node_size: 4,
            interruptions: 3,
            interruption_interval: 1,
            steps: 3,
            ..scenario()
        };

        let report = simulate(&scenario, &mut placer, &mut |_| {}).unwrap();

        // After the creation row, rows come in pairs: an interruption that
        // takes one spot node's executors (1 to 4 of them, all spot), then
        // as many replacements, which restore the job's size.
        assert_eq!((report.rows[0].live, report.rows[0].live_spot), (20, 10));
        let mut created = 20;
        for pair in report.rows[1..].chunks(2) {
            let [interrupt, replace] = pair else {
                panic!("an interruption without replacements: {pair:?}");
            };
            let lost = -interrupt.change;
            assert!((1..=4).contains(&lost), "{interrupt:?}");
            assert_eq!(interrupt.live, 20 - lost as u64);
            assert_eq!(interrupt.created, created);
            assert_eq!(replace.change, lost);
            assert_eq!(replace.live, 20);
            created += lost as u64;
            assert_eq!(replace.created, created);
        }
        // Every ID asked once, in order, never reused.
        assert_eq!(placer.asked, (1..=created).collect::<Vec<u64>>());
        // Every executor lost was removed, before its replacements: all
        // are odd, spot, IDs.
        let lost: i64 = report.rows[1..].iter().step_by(2).map(|r| -r.change).sum();
        assert_eq!(placer.removed.len() as i64, lost);
        assert_eq!(report.deletions, lost as u64);
        assert!(placer.removed.iter().all(|id| id % 2 == 1));
        let last = report.rows.last().unwrap();
        assert_eq!(
            report.stored,
            Some(StoredCounts {
                spot: last.live_spot,
                on_demand: last.live - last.live_spot
            })
        );
    }

    #[test]
    fn executors_released_by_a_shrink_are_removed() {
        let mut placer = OddOnSpot::default();
        let scenario = Scenario {
            executors: 50,
            interruptions: 0,
            steps: 30,
            dynamic_allocation: Some(DynamicAllocation {
                min_executors: 20,
                max_executors: 80,
                max_change: 15,
            }),
            ..scenario()
        };

        let report = simulate(&scenario, &mut placer, &mut |_| {}).unwrap();

        let released: i64 = report
            .rows
            .iter()
            .filter(|r| r.event == EventKind::Shrink)
            .map(|r| -r.change)
            .sum();
        assert!(released > 0);
        assert_eq!(placer.removed.len() as i64, released);
        // Both capacities leave under dynamic allocation.
        assert!(placer.removed.iter().any(|id| id % 2 == 0));
        assert!(placer.removed.iter().any(|id| id % 2 == 1));
        let last = report.rows.last().unwrap();
        let stored = report.stored.unwrap();
        assert_eq!(
            (stored.spot, stored.spot + stored.on_demand),
            (last.live_spot, last.live)
        );
    }

    #[test]
    fn dynamic_allocation_stays_within_its_bounds() {
        let mut placer = OddOnSpot::default();
        let scenario = Scenario {
            executors: 50,
            interruptions: 0,
            steps: 200,
            dynamic_allocation: Some(DynamicAllocation {
                min_executors: 20,
                max_executors: 80,
                max_change: 15,
            }),
            ..scenario()
        };

        let report = simulate(&scenario, &mut placer, &mut |_| {}).unwrap();

        assert!(report.rows.iter().all(|r| (20..=80).contains(&r.live)));
        assert!(report.rows.iter().any(|r| r.event == EventKind::Grow));
        assert!(report.rows.iter().any(|r| r.event == EventKind::Shrink));
    }

    #[test]
    fn a_seed_fixes_the_run() {
        let scenario = Scenario {
            dynamic_allocation: Some(DynamicAllocation {
                min_executors: 100,
                max_executors: 300,
                max_change: 40,
            }),
            ..scenario()
        };
        let run = |seed| {
            let scenario = Scenario {
                seed,
                ..scenario.clone()
            };
            simulate(&scenario, &mut OddOnSpot::default(), &mut |_| {}).unwrap()
        };

        assert_eq!(run(7), run(7));
        assert_ne!(run(7).rows, run(8).rows);
    }

    #[test]
    fn an_interruption_without_spot_executors_loses_nothing() {
        /// Places everything on demand.
        struct AllOnDemand;
        impl Placer for AllOnDemand {
            fn place(
                &mut self,
                _: &Scenario,
                _: u64,
                _: &[(u64, Capacity)],
            ) -> Result<Decision, PlacementError> {
                Ok(Decision {
                    capacity: Capacity::OnDemand,
                    outcome: Outcome::Unmutated,
                    warnings: Vec::new(),
                })
            }
        }

        let report = simulate(
            &Scenario {
                ratio: 0.0,
                ..scenario()
            },
            &mut AllOnDemand,
            &mut |_| {},
        )
        .unwrap();

        let interrupts: Vec<i64> = report
            .rows
            .iter()
            .filter(|r| r.event == EventKind::Interrupt)
            .map(|r| r.change)
            .collect();
        assert_eq!(interrupts, [0, 0, 0, 0]);
        assert_eq!(report.outcomes["unmutated (counted on-demand)"], 200);
    }

    #[test]
    fn progress_is_reported_per_placement() {
        let mut placed = Vec::new();
        let scenario = Scenario {
            executors: 3,
            interruptions: 0,
            steps: 0,
            ..scenario()
        };
        simulate(&scenario, &mut OddOnSpot::default(), &mut |n| {
            placed.push(n)
        })
        .unwrap();
        assert_eq!(placed, [1, 2, 3]);
    }

    #[test]
    fn an_invalid_scenario_places_nothing() {
        let mut placer = OddOnSpot::default();
        let error = simulate(
            &Scenario {
                executors: 0,
                ..scenario()
            },
            &mut placer,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "--executors: expected a whole number of at least 1, got 0"
        );
        assert!(placer.asked.is_empty());
    }
}
