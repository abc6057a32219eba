//! Several placement modes over one scenario, side by side.
//!
//! Every mode plays the same scenario, and the engine's random draws do
//! not depend on the placements, so every mode sees the same steps and the
//! same events. What differs is where each mode put the executors, and so
//! how many a reclaimed node held. Rows are matched by step and event: a
//! step has at most one event of each kind. A row one mode has and another
//! lacks (an interruption that found no spot node brings no replacements)
//! is left blank for the others.
//!
//! A comparison of one mode renders as that mode's own report, so a single
//! `--mode` prints and writes what it always did.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::placement::PlacementMode;
use super::report::{EventKind, Report, Row};

/// Where a row sits in the run: its step and its event.
pub type RowKey = (u64, EventKind);

/// One mode's run.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeRun {
    /// The mode played.
    pub mode: PlacementMode,
    /// What it found.
    pub report: Report,
}

/// The runs of several modes over one scenario, in the order played.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// The runs.
    pub runs: Vec<ModeRun>,
}

/// Width of one mode's group of columns in the table.
const GROUP_WIDTH: usize = 27;

impl Comparison {
    /// A comparison with no run yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the run of `mode`.
    pub fn push(&mut self, mode: PlacementMode, report: Report) {
        self.runs.push(ModeRun { mode, report });
    }

    /// Every row key of any run, in order, with each run's row at that key.
    pub fn aligned(&self) -> Vec<(RowKey, Vec<Option<&Row>>)> {
        let by_key: Vec<BTreeMap<RowKey, &Row>> = self
            .runs
            .iter()
            .map(|run| {
                run.report
                    .rows
                    .iter()
                    .map(|row| ((row.step, row.event), row))
                    .collect()
            })
            .collect();
        let keys: BTreeSet<RowKey> = by_key
            .iter()
            .flat_map(|rows| rows.keys().copied())
            .collect();
        keys.into_iter()
            .map(|key| {
                (
                    key,
                    by_key.iter().map(|rows| rows.get(&key).copied()).collect(),
                )
            })
            .collect()
    }

    /// The runs as one text table, a group of columns per mode, then each
    /// mode's totals.
    pub fn to_table(&self) -> String {
        if let [run] = self.runs.as_slice() {
            return run.report.to_table();
        }
        let mut text = String::new();

        // Two header lines: the modes, then the columns.
        let _ = write!(text, "{:16}", "");
        for run in &self.runs {
            let _ = write!(
                text,
                " {:-^width$}",
                format!(" {} ", run.mode),
                width = GROUP_WIDTH
            );
        }
        let _ = write!(text, "\n{:>5} {:<10}", "step", "event");
        for _ in &self.runs {
            let _ = write!(
                text,
                " {:>7} {:>5} {:>5} {:>7}",
                "change", "live", "spot", "dev"
            );
        }
        text.push('\n');

        for ((step, event), rows) in self.aligned() {
            let _ = write!(text, "{step:>5} {event:<10}");
            for row in rows {
                match row {
                    Some(row) => {
                        let _ = write!(
                            text,
                            " {:>+7} {:>5} {:>5} {:>+7.2}",
                            row.change,
                            row.live,
                            row.live_spot,
                            row.deviation()
                        );
                    }
                    None => {
                        let _ = write!(text, " {:width$}", "", width = GROUP_WIDTH);
                    }
                }
            }
            // Blank groups at the end of a line leave trailing spaces.
            text.truncate(text.trim_end().len());
            text.push('\n');
        }
        text.push_str("dev: live spot executors minus ratio × live, in executors\n");

        for run in &self.runs {
            let _ = writeln!(text, "\n{}:", run.mode);
            for line in run.report.totals().lines() {
                let _ = writeln!(text, "  {line}");
            }
        }
        text
    }

    /// The runs as CSV: a line per row key, and per mode the columns of its
    /// report's CSV, named `<mode>_<column>` with the mode's `-` as `_`;
    /// a row a mode lacks leaves its columns empty.
    pub fn to_csv(&self) -> String {
        if let [run] = self.runs.as_slice() {
            return run.report.to_csv();
        }
        let mut csv = String::from("step,event");
        for run in &self.runs {
            let mode = run.mode.to_string().replace('-', "_");
            for column in MODE_COLUMNS {
                let _ = write!(csv, ",{mode}_{column}");
            }
        }
        csv.push('\n');

        for ((step, event), rows) in self.aligned() {
            let _ = write!(csv, "{step},{event}");
            for row in rows {
                match row {
                    Some(row) => {
                        let _ = write!(
                            csv,
                            ",{},{},{},{:.3},{:.4},{:.3},{},{},{:.3}",
                            row.change,
                            row.live,
                            row.live_spot,
                            row.target_spot,
                            row.live_share(),
                            row.deviation(),
                            row.created,
                            row.created_spot,
                            row.created_deviation(),
                        );
                    }
                    None => csv.push_str(&",".repeat(MODE_COLUMNS.len())),
                }
            }
            csv.push('\n');
        }
        csv
    }
}

/// The columns each mode has in the CSV of a comparison.
const MODE_COLUMNS: [&str; 9] = [
    "change",
    "live",
    "live_spot",
    "target_spot",
    "live_share",
    "deviation",
    "created",
    "created_spot",
    "created_deviation",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A row after `event` at ratio 0.5.
    fn row(step: u64, event: EventKind, change: i64, live: u64, live_spot: u64) -> Row {
        Row {
            step,
            event,
            change,
            live,
            live_spot,
            target_spot: 0.5 * live as f64,
            created: 10,
            created_spot: 5,
            created_target: 5.0,
        }
    }

    /// A 10-executor job losing a node in one mode; in the other, the
    /// interruption found no spot node, so nothing was replaced.
    fn comparison() -> Comparison {
        let mut comparison = Comparison::new();
        comparison.push(
            PlacementMode::IdOnly,
            Report {
                ratio: 0.5,
                rows: vec![
                    row(0, EventKind::Create, 10, 10, 5),
                    row(1, EventKind::Interrupt, -3, 7, 2),
                    row(1, EventKind::Replace, 3, 10, 4),
                ],
                ..Report::default()
            },
        );
        comparison.push(
            PlacementMode::Redis,
            Report {
                ratio: 0.5,
                rows: vec![
                    row(0, EventKind::Create, 10, 10, 5),
                    row(1, EventKind::Interrupt, 0, 10, 5),
                ],
                ..Report::default()
            },
        );
        comparison
    }

    #[test]
    fn rows_line_up_by_step_and_event() {
        let comparison = comparison();
        let aligned = comparison.aligned();
        let shape: Vec<(RowKey, Vec<bool>)> = aligned
            .iter()
            .map(|(key, rows)| (*key, rows.iter().map(Option::is_some).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                ((0, EventKind::Create), vec![true, true]),
                ((1, EventKind::Interrupt), vec![true, true]),
                ((1, EventKind::Replace), vec![true, false]),
            ]
        );
    }

    #[test]
    fn the_table_has_a_group_per_mode_and_each_mode_totals() {
        let table = comparison().to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[..5],
            [
                "                 --------- id-only --------- ---------- redis ----------",
                " step event       change  live  spot     dev  change  live  spot     dev",
                "    0 create         +10    10     5   +0.00     +10    10     5   +0.00",
                "    1 interrupt       -3     7     2   -1.50      +0    10     5   +0.00",
                "    1 replace         +3    10     4   -1.00",
            ]
        );
        assert!(
            table.contains("\nid-only:\n  target spot share: 50.0%\n"),
            "{table}"
        );
        assert!(
            table.contains("\nredis:\n  target spot share: 50.0%\n"),
            "{table}"
        );
    }

    #[test]
    fn the_csv_has_columns_per_mode_and_blanks_for_missing_rows() {
        let csv = comparison().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].starts_with("step,event,id_only_change,id_only_live,id_only_live_spot,"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(",redis_created_spot,redis_created_deviation"));
        assert_eq!(
            lines[3],
            "1,replace,3,10,4,5.000,0.4000,-1.000,10,5,0.000,,,,,,,,,"
        );
        let fields = |line: &str| line.split(',').count();
        assert!(lines.iter().all(|line| fields(line) == 2 + 2 * 9));
    }

    #[test]
    fn one_mode_renders_as_its_own_report() {
        let mut comparison = comparison();
        comparison.runs.truncate(1);
        let report = &comparison.runs[0].report;
        assert_eq!(comparison.to_table(), report.to_table());
        assert_eq!(comparison.to_csv(), report.to_csv());
    }
}
