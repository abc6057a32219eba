//! Reports as SVG charts, drawn with plotters.
//!
//! For one mode ([`write_svg`]), the upper panel shows, after every event,
//! the live executors, the live spot executors and the target `ratio ×
//! live`; the lower panel shows the gap between the last two, in
//! executors, with zero marked. For several modes side by side
//! ([`write_comparison_svg`]), the upper panel shows each mode's live spot
//! share against the target share, and the lower one each mode's gap, a
//! colour per mode. The x axis counts events, since several can share a
//! step.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use thiserror::Error;

use super::comparison::Comparison;
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
    write_panels(path, title, SIZE.1 * 3 / 5, |upper, lower| {
        draw_counts(report, upper)?;
        draw_deviation(report, lower)
    })
}

/// Writes the chart of `comparison` to `path`, titled with `title`; a
/// comparison of one mode is drawn as [`write_svg`] draws its report.
///
/// # Errors
///
/// [`ChartError`] when plotters cannot draw or write the file.
pub fn write_comparison_svg(
    comparison: &Comparison,
    title: &str,
    path: &Path,
) -> Result<(), ChartError> {
    if let [run] = comparison.runs.as_slice() {
        return write_svg(&run.report, title, path);
    }
    let lines = mode_lines(comparison);
    let ratio = comparison.runs.first().map_or(0.0, |run| run.report.ratio);
    write_panels(path, title, SIZE.1 / 2, |upper, lower| {
        draw_shares(&lines, ratio, upper)?;
        draw_deviations(&lines, lower)
    })
}

/// A panel of the chart, drawn on the SVG backend.
type Panel<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// What drawing on a panel may fail with.
type DrawError = DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>;

/// Writes an SVG chart to `path`, titled with `title`, whose upper panel
/// is `upper_height` pixels high; `draw` fills the two panels.
fn write_panels(
    path: &Path,
    title: &str,
    upper_height: u32,
    draw: impl FnOnce(&Panel, &Panel) -> Result<(), DrawError>,
) -> Result<(), ChartError> {
    let error = |e: DrawError| ChartError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(error)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(error)?;
    let (upper, lower) = root.split_vertically(upper_height);
    draw(&upper, &lower).map_err(error)?;
    root.present().map_err(error)
}

/// A chart on `area` over `xs` by `ys`, its mesh drawn, the x axis
/// counting events and the y axis described by `y_desc` with labels from
/// `y_label`.
fn chart_on<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    xs: Range<f64>,
    ys: Range<f64>,
    y_desc: &str,
    y_label: fn(&f64) -> String,
) -> Result<Chart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(xs, ys)?;
    chart
        .configure_mesh()
        .x_desc("event")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&y_label)
        .draw()?;
    Ok(chart)
}

/// A chart with `f64` on both axes.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the legend of `chart` at `position`, on a pale box.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
}

/// The legend mark of a line drawn in `style`.
fn legend_mark(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style)
}

/// The x range: one unit per event, at least one.
fn events(report: &Report) -> Range<f64> {
    x_range(report.rows.len())
}

/// The x range for `count` events: one unit per event, at least one.
fn x_range(count: usize) -> Range<f64> {
    0.0..(count.max(2) - 1) as f64
}

/// Colours of the modes of a comparison, in the order played; past the
/// last, they repeat.
const MODE_COLOURS: [RGBColor; 4] = [RED, BLUE, RGBColor(0, 140, 60), MAGENTA];

/// One mode's points: its name, its colour, and per aligned event (x)
/// its live spot share in percent and its deviation in executors.
struct ModeLine {
    /// The mode's name.
    name: String,
    /// Its colour.
    colour: RGBColor,
    /// Its stroke width: modes played first are drawn wider, so that where
    /// two modes agree exactly both stay visible, one inside the other.
    width: u32,
    /// `(x, share %, deviation)` at every event the mode has.
    points: Vec<(f64, f64, f64)>,
    /// How many aligned events there are in all.
    events: usize,
}

/// The points of every mode, on the comparison's aligned events.
fn mode_lines(comparison: &Comparison) -> Vec<ModeLine> {
    let aligned = comparison.aligned();
    let count = comparison.runs.len();
    comparison
        .runs
        .iter()
        .enumerate()
        .map(|(index, run)| ModeLine {
            name: run.mode.to_string(),
            colour: MODE_COLOURS[index % MODE_COLOURS.len()],
            width: 2 * (count - index).min(3) as u32,
            points: aligned
                .iter()
                .enumerate()
                .filter_map(|(x, (_, rows))| {
                    let row = rows.get(index).copied().flatten()?;
                    Some((x as f64, 100.0 * row.live_share(), row.deviation()))
                })
                .collect(),
            events: aligned.len(),
        })
        .collect()
}

/// Draws each mode's live spot share and the target share.
fn draw_shares<DB: DrawingBackend>(
    lines: &[ModeLine],
    ratio: f64,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let xs = x_range(lines.first().map_or(0, |line| line.events));
    let mut chart = chart_on(area, xs.clone(), 0.0..100.0, "live on spot (%)", |y| {
        format!("{y:.0}")
    })?;

    let target = 100.0 * ratio;
    chart
        .draw_series(LineSeries::new(
            [(xs.start, target), (xs.end, target)],
            BLACK.stroke_width(2),
        ))?
        .label(format!("target share ({target:.1}%)"))
        .legend(legend_mark(BLACK.stroke_width(2)));
    for line in lines {
        let style = line.colour.stroke_width(line.width);
        let points = line.points.iter().map(|&(x, share, _)| (x, share));
        chart
            .draw_series(LineSeries::new(points, style))?
            .label(format!("{}: live spot share", line.name))
            .legend(legend_mark(style));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Draws each mode's live spot minus target, in executors.
fn draw_deviations<DB: DrawingBackend>(
    lines: &[ModeLine],
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let xs = x_range(lines.first().map_or(0, |line| line.events));
    let span = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|&(_, _, deviation)| deviation.abs()))
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = chart_on(
        area,
        xs.clone(),
        -span..span,
        "spot − target (executors)",
        |y| format!("{y:+.0}"),
    )?;

    chart.draw_series(LineSeries::new(
        [(xs.start, 0.0), (xs.end, 0.0)],
        BLACK.mix(0.5),
    ))?;
    for line in lines {
        let style = line.colour.stroke_width(line.width);
        let points = line.points.iter().map(|&(x, _, deviation)| (x, deviation));
        chart
            .draw_series(LineSeries::new(points, style))?
            .label(format!("{}: live spot − target", line.name))
            .legend(legend_mark(style));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Draws live, live spot and target spot executors.
fn draw_counts<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    // Room above the live line for the legend.
    let top = report.rows.iter().map(|r| r.live).max().unwrap_or(1).max(1) as f64 * 1.35;
    let mut chart = chart_on(area, events(report), 0.0..top, "executors", |y| {
        format!("{y:.0}")
    })?;

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
            .legend(legend_mark(color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Draws live spot minus target, in executors.
fn draw_deviation<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let span = report
        .rows
        .iter()
        .map(|r| r.deviation().abs())
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = chart_on(area, events(report), -span..span, "spot − target", |y| {
        format!("{y:+.0}")
    })?;

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
        .legend(legend_mark(RED.stroke_width(2)));
    // The legend goes on the side the curve ends away from.
    let ends_below = report.rows.last().is_some_and(|row| row.deviation() < 0.0);
    let position = if ends_below {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::LowerRight
    };
    draw_legend(&mut chart, position)
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
    fn a_comparison_draws_a_line_per_mode() {
        use crate::simulation::{Comparison, PlacementMode};

        let report = |spot: u64| Report {
            ratio: 0.5,
            rows: (0..3u64)
                .map(|i| Row {
                    step: i,
                    event: EventKind::Create,
                    change: 0,
                    live: 10,
                    live_spot: spot,
                    target_spot: 5.0,
                    created: 10,
                    created_spot: spot,
                    created_target: 5.0,
                })
                .collect(),
            ..Report::default()
        };
        let mut comparison = Comparison::new();
        comparison.push(PlacementMode::IdOnly, report(3));
        comparison.push(PlacementMode::Redis, report(5));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modes.svg");

        write_comparison_svg(&comparison, "two modes", &path).unwrap();

        let svg = std::fs::read_to_string(&path).unwrap();
        for text in [
            "two modes",
            "target share (50.0%)",
            "id-only: live spot share",
            "redis: live spot share",
            "id-only: live spot − target",
            "redis: live spot − target",
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
