//! The report as an SVG chart, drawn with plotters.
//!
//! The upper panel shows, after every event, the live executors, the live
//! spot executors and the target `ratio × live`; the lower panel shows the
//! gap between the last two, in executors, with zero marked. The x axis
//! counts events, since several can share a step.

use std::path::Path;

use plotters::prelude::*;
use thiserror::Error;

use super::report::{Report, Row};

/// Why the chart could not be drawn.
#[derive(Debug, Error)]
#[error("failed to draw chart {path}: {reason}")]
pub struct ChartError {
    /// The file being written.
    path: String,
    /// What plotters reported.
    reason: String,
}

/// One line of the upper panel: its legend, its colour, its value per row.
type Series = (&'static str, RGBColor, fn(&Row) -> f64);

/// Width and height of the chart, in pixels.
const SIZE: (u32, u32) = (1000, 700);

/// Writes the chart of `report` to `path`, titled with `title`.
///
/// # Errors
///
/// [`ChartError`] when plotters cannot draw or write the file.
pub fn write_svg(report: &Report, title: &str, path: &Path) -> Result<(), ChartError> {
    let error = |e: &dyn std::fmt::Display| ChartError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };

    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| error(&e))?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 3 / 5);

    draw_counts(report, &upper).map_err(|e| error(&e))?;
    draw_deviation(report, &lower).map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))
}

/// The x range: one unit per event, at least one.
fn events(report: &Report) -> std::ops::Range<f64> {
    0.0..(report.rows.len().max(2) - 1) as f64
}

/// Draws live, live spot and target spot executors.
fn draw_counts<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    // Room above the live line for the legend.
    let top = report.rows.iter().map(|r| r.live).max().unwrap_or(1).max(1) as f64 * 1.35;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(events(report), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("event")
        .y_desc("executors")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;

    let series: [Series; 3] = [
        ("live executors", BLACK, |r| r.live as f64),
        ("live on spot", RED, |r| r.live_spot as f64),
        ("target on spot (ratio × live)", BLUE, |r| r.target_spot),
    ];
    for (label, color, value) in series {
        let points = report
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (i as f64, value(row)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
}

/// Draws live spot minus target, in executors.
fn draw_deviation<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let span = report
        .rows
        .iter()
        .map(|r| r.deviation().abs())
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(events(report), -span..span)?;
    chart
        .configure_mesh()
        .x_desc("event")
        .y_desc("spot − target")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:+.0}"))
        .draw()?;

    let zero = events(report);
    chart.draw_series(LineSeries::new(
        [(zero.start, 0.0), (zero.end, 0.0)],
        BLACK.mix(0.5),
    ))?;
    let points = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| (i as f64, row.deviation()));
    chart
        .draw_series(LineSeries::new(points, RED.stroke_width(2)))?
        .label("live spot − target (executors)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    // The legend goes on the side the curve ends away from.
    let ends_below = report.rows.last().is_some_and(|row| row.deviation() < 0.0);
    let position = if ends_below {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::LowerRight
    };
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::report::EventKind;

    #[test]
    fn writes_an_svg_with_the_series() {
        let rows = (0..4u64)
            .map(|i| Row {
                step: i,
                event: EventKind::Create,
                change: 0,
                live: 10,
                live_spot: 5 - i.min(2),
                target_spot: 5.0,
                created: 10,
                created_spot: 5,
                created_target: 5.0,
            })
            .collect();
        let report = Report {
            ratio: 0.5,
            rows,
            ..Report::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");

        write_svg(&report, "test job", &path).unwrap();

        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for text in [
            "test job",
            "live on spot",
            "target on spot (ratio × live)",
            "live spot − target (executors)",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }

    #[test]
    fn an_unwritable_path_is_an_error() {
        let report = Report::new(0.5);
        let error = write_svg(&report, "t", Path::new("/nonexistent-dir/x.svg")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("failed to draw chart /nonexistent-dir/x.svg: "),
            "{error}"
        );
    }
}
