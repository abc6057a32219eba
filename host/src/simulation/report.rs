//! What a simulation found: one row per event, and totals.
//!
//! Each row is the job's state right after one event (the initial
//! creation, an interruption, its replacements, a scale-up or a
//! scale-down): how many executors are live, how many of them on spot, and
//! how far that is from the target `ratio × live`, in executors. The same
//! is given for every executor created so far, which is what ID placement
//! balances. The report also counts how the policy's answers were read,
//! the DELETE reviews sent, the answers that carried warnings, and what
//! the placer's store counted at the end. It renders as a text table and
//! as CSV.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use super::placement::{Outcome, Removal, StoredCounts};

/// What happened to the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The job's initial executors were created.
    Create,
    /// A spot node was reclaimed with its executors.
    Interrupt,
    /// Spark created replacements for the executors lost.
    Replace,
    /// Dynamic allocation added executors.
    Grow,
    /// Dynamic allocation removed executors.
    Shrink,
}

impl fmt::Display for EventKind {
    /// The event's lower-case name, as in the CSV.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Create => "create",
            Self::Interrupt => "interrupt",
            Self::Replace => "replace",
            Self::Grow => "grow",
            Self::Shrink => "shrink",
        })
    }
}

/// The job's state after one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Step of the event; 0 is the initial creation.
    pub step: u64,
    /// What happened.
    pub event: EventKind,
    /// Executors added (positive) or removed (negative).
    pub change: i64,
    /// Live executors after the event.
    pub live: u64,
    /// Live executors on spot after the event.
    pub live_spot: u64,
    /// `ratio × live`: the spot executors the job should have.
    pub target_spot: f64,
    /// Executors created so far.
    pub created: u64,
    /// Executors created so far that went to spot.
    pub created_spot: u64,
    /// `ratio × created`.
    pub created_target: f64,
}

impl Row {
    /// Live spot executors minus the target, in executors.
    pub fn deviation(&self) -> f64 {
        self.live_spot as f64 - self.target_spot
    }

    /// Spot executors created minus `ratio × created`.
    pub fn created_deviation(&self) -> f64 {
        self.created_spot as f64 - self.created_target
    }

    /// Share of live executors on spot; 0 for a job with none.
    pub fn live_share(&self) -> f64 {
        share(self.live_spot, self.live)
    }
}

/// The rows of a run and what its placements were like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The target spot share.
    pub ratio: f64,
    /// One row per event, in order.
    pub rows: Vec<Row>,
    /// How many placements were read each way.
    pub outcomes: BTreeMap<String, u64>,
    /// Placements whose answer carried a warning.
    pub warned_placements: u64,
    /// DELETE reviews sent through the policy.
    pub deletions: u64,
    /// DELETE reviews whose answer carried a warning.
    pub warned_deletions: u64,
    /// What the placer's store counted at the end, if it keeps counts.
    pub stored: Option<StoredCounts>,
    /// One line per kind of answer that was not a plain decision, naming
    /// the first executor that got it; at most [`MAX_NOTES`].
    pub notes: Vec<String>,
}

/// Most distinct notes kept in a report.
pub const MAX_NOTES: usize = 5;

impl Report {
    /// An empty report for a job of `ratio`.
    pub fn new(ratio: f64) -> Self {
        Self {
            ratio,
            ..Self::default()
        }
    }

    /// Counts one placement's outcome, keeping a note of the unusual ones.
    pub fn count(&mut self, id: u64, outcome: &Outcome) {
        let (label, note) = match outcome {
            Outcome::Decided => ("decided", None),
            Outcome::Unmutated => (
                "unmutated (counted on-demand)",
                Some("admitted unchanged".to_owned()),
            ),
            Outcome::NoAnnotation => (
                "no annotation (counted on-demand)",
                Some("patched without the capacity annotation".to_owned()),
            ),
            Outcome::UnknownValue(value) => (
                "unknown value (counted on-demand)",
                Some(format!("capacity annotation {value:?}")),
            ),
            Outcome::Rejected(message) => (
                "rejected (counted on-demand)",
                Some(format!("rejected: {message}")),
            ),
            Outcome::BadPatch(reason) => (
                "bad patch (counted on-demand)",
                Some(format!("bad patch: {reason}")),
            ),
        };
        *self.outcomes.entry(label.to_owned()).or_default() += 1;
        if let Some(note) = note {
            self.note(&note, &format!("executor {id}"));
        }
    }

    /// Counts a placement of executor `id` whose answer carried
    /// `warnings`, noting the first of each text.
    pub fn count_placement_warnings(&mut self, id: u64, warnings: &[String]) {
        if warnings.is_empty() {
            return;
        }
        self.warned_placements += 1;
        for warning in warnings {
            self.note(&format!("warning: {warning}"), &format!("executor {id}"));
        }
    }

    /// Counts what the placer did about executor `id` leaving.
    pub fn count_removal(&mut self, id: u64, removal: &Removal) {
        let Removal::Reviewed { warnings } = removal else {
            return;
        };
        self.deletions += 1;
        if !warnings.is_empty() {
            self.warned_deletions += 1;
        }
        for warning in warnings {
            let first = format!("deletion of executor {id}");
            self.note(&format!("deletion warning: {warning}"), &first);
        }
    }

    /// Keeps `note`, naming `first`, unless a note of the same text is
    /// kept already or [`MAX_NOTES`] are.
    fn note(&mut self, note: &str, first: &str) {
        let seen = self
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("{note} (")));
        if self.notes.len() < MAX_NOTES && !seen {
            self.notes.push(format!("{note} (first: {first})"));
        }
    }

    /// The row whose live deviation is largest in size, the first if tied.
    pub fn worst_row(&self) -> Option<&Row> {
        self.rows
            .iter()
            .fold(None, |worst: Option<&Row>, row| match worst {
                Some(w) if w.deviation().abs() >= row.deviation().abs() => Some(w),
                _ => Some(row),
            })
    }

    /// The replacement row whose live deviation is largest in size, the
    /// first if tied; `None` without replacements.
    pub fn worst_replacement_row(&self) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|row| row.event == EventKind::Replace)
            .fold(None, |worst: Option<&Row>, row| match worst {
                Some(w) if w.deviation().abs() >= row.deviation().abs() => Some(w),
                _ => Some(row),
            })
    }

    /// The largest created deviation in size over all rows.
    pub fn worst_created_deviation(&self) -> f64 {
        self.rows
            .iter()
            .map(|row| row.created_deviation().abs())
            .fold(0.0, f64::max)
    }

    /// The mean size of the live deviation over all rows.
    pub fn mean_deviation(&self) -> f64 {
        if self.rows.is_empty() {
            return 0.0;
        }
        self.rows
            .iter()
            .map(|row| row.deviation().abs())
            .sum::<f64>()
            / self.rows.len() as f64
    }

    /// The rows as CSV, with a header line.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from(
            "step,event,change,live,live_spot,target_spot,live_share,target_share,deviation,\
             created,created_spot,created_target,created_deviation\n",
        );
        for row in &self.rows {
            // Writing to a String cannot fail.
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{:.3},{:.4},{:.4},{:.3},{},{},{:.3},{:.3}",
                row.step,
                row.event,
                row.change,
                row.live,
                row.live_spot,
                row.target_spot,
                row.live_share(),
                self.ratio,
                row.deviation(),
                row.created,
                row.created_spot,
                row.created_target,
                row.created_deviation(),
            );
        }
        csv
    }

    /// The rows as an aligned text table, then the totals.
    pub fn to_table(&self) -> String {
        let mut text = String::new();
        // Two header lines: the groups, then the columns.
        let _ = writeln!(
            text,
            "{:23} {:-^41} {:-^27}",
            "", " live executors ", " created so far "
        );
        let _ = writeln!(
            text,
            "{:>5} {:<9} {:>7} {:>6} {:>6} {:>9} {:>7} {:>9} {:>8} {:>8} {:>9}",
            "step",
            "event",
            "change",
            "all",
            "spot",
            "target",
            "share",
            "deviation",
            "all",
            "spot",
            "deviation"
        );
        for row in &self.rows {
            let _ = writeln!(
                text,
                "{:>5} {:<9} {:>+7} {:>6} {:>6} {:>9.1} {:>6.1}% {:>+9.2} {:>8} {:>8} {:>+9.2}",
                row.step,
                row.event,
                row.change,
                row.live,
                row.live_spot,
                row.target_spot,
                100.0 * row.live_share(),
                row.deviation(),
                row.created,
                row.created_spot,
                row.created_deviation(),
            );
        }
        text.push_str(&self.totals());
        text
    }

    /// The totals as text lines.
    pub fn totals(&self) -> String {
        let mut text = String::new();
        let Some(last) = self.rows.last() else {
            return "no events\n".into();
        };
        let _ = writeln!(text, "target spot share: {:.1}%", 100.0 * self.ratio);
        let _ = writeln!(
            text,
            "live at the end: {} executors, {} on spot ({:.1}%), target {:.1}, deviation {:+.2}",
            last.live,
            last.live_spot,
            100.0 * last.live_share(),
            last.target_spot,
            last.deviation()
        );
        let _ = writeln!(
            text,
            "created: {} executors, {} on spot ({:.1}%), target {:.1}, largest deviation {:.2}",
            last.created,
            last.created_spot,
            100.0 * share(last.created_spot, last.created),
            last.created_target,
            self.worst_created_deviation()
        );
        if let Some(worst) = self.worst_row() {
            let _ = writeln!(
                text,
                "largest live deviation: {:+.2} executors, at step {} ({}), mean {:.2}",
                worst.deviation(),
                worst.step,
                worst.event,
                self.mean_deviation()
            );
        }
        if let Some(worst) = self.worst_replacement_row() {
            let _ = writeln!(
                text,
                "largest deviation after replacements: {:+.2} executors, at step {}",
                worst.deviation(),
                worst.step
            );
        }
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        let _ = write!(text, "placements: {}", outcomes.join(", "));
        if self.warned_placements > 0 {
            let _ = write!(text, "; {} with a warning", self.warned_placements);
        }
        text.push('\n');
        if self.deletions > 0 {
            let _ = writeln!(
                text,
                "deletions: {} sent through the policy, {} with a warning",
                self.deletions, self.warned_deletions
            );
        }
        if let Some(stored) = self.stored {
            let cluster = StoredCounts {
                spot: last.live_spot,
                on_demand: last.live - last.live_spot,
            };
            let _ = write!(
                text,
                "counted by the policy's store at the end: {} spot, {} on-demand",
                stored.spot, stored.on_demand
            );
            if stored == cluster {
                text.push_str(", as in the cluster\n");
            } else {
                let _ = writeln!(
                    text,
                    "; the cluster has {} spot, {} on-demand",
                    cluster.spot, cluster.on_demand
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(text, "  {note}");
        }
        text
    }
}

/// `part / whole`, or 0 when `whole` is 0.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// A row after `event` with the given live and created counts, ratio 0.5.
    fn row(
        step: u64,
        event: EventKind,
        live: u64,
        live_spot: u64,
        created: u64,
        created_spot: u64,
    ) -> Row {
        Row {
            step,
            event,
            change: 0,
            live,
            live_spot,
            target_spot: 0.5 * live as f64,
            created,
            created_spot,
            created_target: 0.5 * created as f64,
        }
    }

    /// A report of a 10-executor job that loses three spot executors.
    fn report() -> Report {
        Report {
            ratio: 0.5,
            rows: vec![
                row(0, EventKind::Create, 10, 5, 10, 5),
                row(1, EventKind::Interrupt, 7, 2, 10, 5),
                row(1, EventKind::Replace, 10, 4, 13, 7),
            ],
            ..Report::default()
        }
    }

    #[rstest]
    #[case::balanced(row(0, EventKind::Create, 10, 5, 10, 5), 0.0, 0.0, 0.5)]
    #[case::short(row(1, EventKind::Interrupt, 7, 2, 10, 5), -1.5, 0.0, 2.0 / 7.0)]
    #[case::empty(row(2, EventKind::Shrink, 0, 0, 4, 3), 0.0, 1.0, 0.0)]
    fn rows_measure_deviation_in_executors(
        #[case] row: Row,
        #[case] deviation: f64,
        #[case] created_deviation: f64,
        #[case] share: f64,
    ) {
        assert_eq!(row.deviation(), deviation);
        assert_eq!(row.created_deviation(), created_deviation);
        assert_eq!(row.live_share(), share);
    }

    #[test]
    fn the_worst_row_is_the_largest_live_deviation() {
        let report = report();
        let worst = report.worst_row().unwrap();
        assert_eq!((worst.step, worst.event), (1, EventKind::Interrupt));
        assert_eq!(report.mean_deviation(), (0.0 + 1.5 + 1.0) / 3.0);
        assert_eq!(report.worst_created_deviation(), 0.5);
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let csv = report().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("step,event,change,live,live_spot,target_spot"));
        assert_eq!(
            lines[2],
            "1,interrupt,0,7,2,3.500,0.2857,0.5000,-1.500,10,5,5.000,0.000"
        );
    }

    #[test]
    fn outcomes_are_counted_and_unusual_ones_noted_once() {
        let mut report = Report::new(0.5);
        report.count(1, &Outcome::Decided);
        report.count(2, &Outcome::Unmutated);
        report.count(4, &Outcome::Unmutated);
        report.count(3, &Outcome::Rejected("no ratio".into()));

        assert_eq!(
            report.outcomes,
            BTreeMap::from([
                ("decided".to_owned(), 1),
                ("rejected (counted on-demand)".to_owned(), 1),
                ("unmutated (counted on-demand)".to_owned(), 2),
            ])
        );
        assert_eq!(
            report.notes,
            [
                "admitted unchanged (first: executor 2)",
                "rejected: no ratio (first: executor 3)"
            ]
        );
    }

    #[test]
    fn warnings_and_deletions_are_counted_and_noted() {
        let mut report = Report::new(0.5);
        let warned = ["redis timed out".to_owned()];
        report.count_placement_warnings(1, &[]);
        report.count_placement_warnings(2, &warned);
        report.count_placement_warnings(3, &warned);
        report.count_removal(4, &Removal::Ignored);
        report.count_removal(5, &Removal::Reviewed { warnings: vec![] });
        report.count_removal(
            6,
            &Removal::Reviewed {
                warnings: warned.to_vec(),
            },
        );

        assert_eq!(
            (
                report.warned_placements,
                report.deletions,
                report.warned_deletions
            ),
            (2, 2, 1)
        );
        assert_eq!(
            report.notes,
            [
                "warning: redis timed out (first: executor 2)",
                "deletion warning: redis timed out (first: deletion of executor 6)"
            ]
        );
    }

    #[rstest]
    #[case::as_the_cluster(
        StoredCounts { spot: 4, on_demand: 6 },
        "counted by the policy's store at the end: 4 spot, 6 on-demand, as in the cluster\n"
    )]
    #[case::off(
        StoredCounts { spot: 5, on_demand: 6 },
        "counted by the policy's store at the end: 5 spot, 6 on-demand; the cluster has 4 spot, \
         6 on-demand\n"
    )]
    fn totals_compare_the_store_with_the_cluster(#[case] stored: StoredCounts, #[case] line: &str) {
        let report = Report {
            stored: Some(stored),
            deletions: 3,
            ..report()
        };
        let totals = report.totals();
        assert!(totals.contains(line), "{totals}");
        assert!(
            totals.contains("deletions: 3 sent through the policy, 0 with a warning\n"),
            "{totals}"
        );
    }

    #[test]
    fn totals_name_the_worst_step() {
        let totals = report().totals();
        assert!(
            totals.contains("largest live deviation: -1.50 executors, at step 1 (interrupt)"),
            "{totals}"
        );
        assert!(
            totals.contains(
                "live at the end: 10 executors, 4 on spot (40.0%), target 5.0, deviation -1.00"
            ),
            "{totals}"
        );
        assert!(
            totals.contains("largest deviation after replacements: -1.00 executors, at step 1\n"),
            "{totals}"
        );
        assert!(!totals.contains("deletions"), "{totals}");
    }
}
