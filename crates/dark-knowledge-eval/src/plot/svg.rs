//! The two charts: [`line_chart_svg`] (series with error bars) and [`reliability_svg`].

use std::fmt::Write as _;

use super::axes::{
    Axis, HEIGHT, WIDTH, axes, document, escape, finish, fmt_num, no_data, truncate, w,
};
use super::{ReliabilityBin, ece_from_bins};

/// Series colours, in order; series beyond the tenth reuse them with a dashed line.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f", "#ff9da7",
    "#edc948", "#7f7f7f",
];
/// Left edge of the plot area (room for y tick labels and the y-axis title).
const LEFT: f64 = 72.0;
/// Width reserved right of the plot area for a legend.
const LEGEND_WIDTH: f64 = 170.0;

/// One line of a chart: points `(x, mean, std)`; `std` draws a vertical error bar of ±std
/// (no bar when std is 0 or NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend (when the chart has more than one series).
    pub label: String,
    /// `(x, mean, std)` per point, e.g. the mean and standard deviation over seeds of a
    /// metric at one temperature. Points with a non-finite `x` or `mean` (or `x <= 0` on
    /// a log₂ axis) are skipped; a non-finite, zero or negative `std` draws no bar.
    pub points: Vec<(f64, f64, f64)>,
}

/// Titles and x-axis scale of a [`line_chart_svg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Chart<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// Title of the x axis.
    pub x_label: &'a str,
    /// Title of the y axis.
    pub y_label: &'a str,
    /// Place points at `log2(x)`, with ticks labelled by the x values themselves (e.g.
    /// temperatures 1, 2, 4, 8 or student widths 16, 32, 64, 128).
    pub log2_x: bool,
}

/// A point that will be drawn: its x value, its position on the x axis, its mean and its
/// error bar (if any).
struct Point {
    x: f64,
    pos: f64,
    mean: f64,
    std: Option<f64>,
}

/// Lines with markers and error bars, as a standalone 640×420 SVG document. Non-finite
/// points are skipped; no series or no finite point gives a valid SVG that says
/// "no data". The y range covers the error bars with some padding and never collapses
/// when all values are equal; a legend is drawn when there is more than one series.
pub fn line_chart_svg(chart: &Chart<'_>, series: &[Series]) -> String {
    let drawn: Vec<Vec<Point>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, mean, std)| {
                    let pos = if chart.log2_x && x > 0.0 { x.log2() } else { x };
                    if (chart.log2_x && x <= 0.0) || !(pos.is_finite() && mean.is_finite()) {
                        return None;
                    }
                    let bar = std > 0.0 && (mean - std).is_finite() && (mean + std).is_finite();
                    let std = bar.then_some(std);
                    Some(Point { x, pos, mean, std })
                })
                .collect()
        })
        .collect();
    let points = || drawn.iter().flatten();
    if points().next().is_none() {
        return no_data(chart.title);
    }
    let legend = series.len() > 1;
    let right = WIDTH - if legend { LEGEND_WIDTH } else { 24.0 };
    let (top, bottom) = (44.0, HEIGHT - 60.0);
    let x_axis = if chart.log2_x {
        let xs: Vec<f64> = points().map(|p| p.x).collect();
        Axis::log2(&xs, (LEFT, right))
    } else {
        let min = points().map(|p| p.pos).fold(f64::INFINITY, f64::min);
        let max = points().map(|p| p.pos).fold(f64::NEG_INFINITY, f64::max);
        Axis::linear(min, max, (LEFT, right))
    };
    let low = |p: &Point| p.mean - p.std.unwrap_or(0.0);
    let high = |p: &Point| p.mean + p.std.unwrap_or(0.0);
    let y_min = points().map(low).fold(f64::INFINITY, f64::min);
    let y_max = points().map(high).fold(f64::NEG_INFINITY, f64::max);
    let (Some(xa), Some(ya)) = (x_axis, Axis::linear(y_min, y_max, (bottom, top))) else {
        return no_data(chart.title);
    };

    let mut out = document(chart.title);
    axes(&mut out, &xa, &ya, bottom, [chart.x_label, chart.y_label]);
    let mut entries = Vec::new();
    for (i, (s, pts)) in series.iter().zip(&drawn).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let dash = if i >= PALETTE.len() {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        entries.push(Entry::Line(colour, dash, &s.label));
        w!(
            out,
            r#"<g class="series" stroke="{colour}" fill="{colour}">"#
        );
        let mut line: Vec<&Point> = pts.iter().collect();
        line.sort_by(|a, b| a.pos.total_cmp(&b.pos));
        if line.len() >= 2 {
            let coords: Vec<String> = line
                .iter()
                .map(|p| format!("{:.2},{:.2}", xa.px(p.pos), ya.px(p.mean)))
                .collect();
            w!(
                out,
                r#"<polyline class="line" fill="none" stroke-width="2"{dash} points="{}"/>"#,
                coords.join(" ")
            );
        }
        for p in pts {
            let Some(std) = p.std else { continue };
            let (x, y1, y2) = (xa.px(p.pos), ya.px(p.mean - std), ya.px(p.mean + std));
            w!(
                out,
                r#"<path class="err" stroke-width="1.5" d="M{x:.2} {y1:.2}V{y2:.2}M{:.2} {y1:.2}h8M{:.2} {y2:.2}h8"/>"#,
                x - 4.0,
                x - 4.0
            );
        }
        for p in pts {
            let spread = p.std.map(|s| format!(" ± {}", fmt_num(s)));
            w!(
                out,
                r#"<circle class="pt" cx="{:.2}" cy="{:.2}" r="3.5"><title>{}: x = {}, y = {}{}</title></circle>"#,
                xa.px(p.pos),
                ya.px(p.mean),
                escape(&s.label),
                fmt_num(p.x),
                fmt_num(p.mean),
                spread.unwrap_or_default()
            );
        }
        w!(out, "</g>");
    }
    if legend {
        draw_legend(&mut out, &entries, right + 16.0, top + 8.0);
    }
    finish(out)
}

/// Reliability diagram as a standalone 640×420 SVG document: a bar of accuracy per
/// non-empty confidence bin, the gap to the bin's mean confidence, the diagonal of perfect
/// calibration, the ECE and row count under the title, and a histogram of bin counts
/// below. Bins with a non-finite field or edges outside `[0, 1]` are skipped; no drawable
/// non-empty bin gives a valid SVG that says "no data".
pub fn reliability_svg(title: &str, bins: &[ReliabilityBin]) -> String {
    let drawable: Vec<ReliabilityBin> = bins
        .iter()
        .filter(|b| {
            let fields = [b.lower, b.upper, b.accuracy, b.mean_confidence];
            b.count > 0
                && fields.iter().all(|v| v.is_finite())
                && 0.0 <= b.lower
                && b.lower < b.upper
                && b.upper <= 1.0
        })
        .cloned()
        .collect();
    let Some(ece) = ece_from_bins(&drawable) else {
        return no_data(title);
    };
    let n: usize = drawable.iter().map(|b| b.count).sum();
    let max_count = drawable.iter().map(|b| b.count).max().unwrap_or(1);
    let right = WIDTH - LEGEND_WIDTH;
    let (top, bottom, hist_top, hist_bottom) = (56.0, 290.0, 304.0, 352.0);
    let x = Axis::fixed(0.0, 1.0, 0.2, (LEFT, right));
    let y = Axis::fixed(0.0, 1.0, 0.2, (bottom, top));

    let mut out = document(title);
    w!(
        out,
        r##"<text class="ece" x="{}" y="44" text-anchor="middle" font-size="12" fill="#555">ECE = {:.4} (n = {n}, {} bins)</text>"##,
        WIDTH / 2.0,
        ece,
        bins.len()
    );
    axes(&mut out, &x, &y, hist_bottom, ["Confidence", "Accuracy"]);
    let span = |b: &ReliabilityBin| (x.px(b.lower) + 0.5, x.px(b.upper) - x.px(b.lower) - 1.0);
    w!(out, r##"<g class="bars" fill="#4e79a7">"##);
    for b in &drawable {
        let (bx, bw) = span(b);
        let acc = y.px(b.accuracy.clamp(0.0, 1.0));
        w!(
            out,
            r#"<rect class="bar" x="{bx:.2}" y="{acc:.2}" width="{bw:.2}" height="{:.2}"><title>({}, {}]: n = {}, accuracy {}, mean confidence {}</title></rect>"#,
            bottom - acc,
            fmt_num(b.lower),
            fmt_num(b.upper),
            b.count,
            fmt_num(b.accuracy),
            fmt_num(b.mean_confidence)
        );
    }
    w!(out, "</g>");
    w!(
        out,
        r##"<g class="gaps" fill="#e15759" fill-opacity="0.3" stroke="#e15759" stroke-width="1">"##
    );
    for b in &drawable {
        let (bx, bw) = span(b);
        let acc = y.px(b.accuracy.clamp(0.0, 1.0));
        let conf = y.px(b.mean_confidence.clamp(0.0, 1.0));
        w!(
            out,
            r#"<rect class="gap" x="{bx:.2}" y="{:.2}" width="{bw:.2}" height="{:.2}"/>"#,
            acc.min(conf),
            (acc - conf).abs()
        );
    }
    w!(out, "</g>");
    w!(
        out,
        r##"<g class="reference" stroke="#333" fill="none"><line class="diag" x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke-dasharray="5 4"/><line x1="{LEFT:.2}" y1="{bottom:.2}" x2="{right:.2}" y2="{bottom:.2}"/></g>"##,
        x.px(0.0),
        y.px(0.0),
        x.px(1.0),
        y.px(1.0)
    );
    w!(out, r##"<g class="counts" fill="#9a9a9a">"##);
    for b in &drawable {
        let (bx, bw) = span(b);
        let h = b.count as f64 / max_count as f64 * (hist_bottom - hist_top);
        w!(
            out,
            r#"<rect class="count" x="{bx:.2}" y="{:.2}" width="{bw:.2}" height="{h:.2}"><title>n = {}</title></rect>"#,
            hist_bottom - h,
            b.count
        );
    }
    w!(out, "</g>");
    w!(
        out,
        r##"<g class="count-labels" font-size="10" fill="#555" text-anchor="end"><text x="{:.2}" y="{:.2}">{}</text><text x="{:.2}" y="{:.2}">0</text></g>"##,
        LEFT - 8.0,
        hist_top + 8.0,
        max_count,
        LEFT - 8.0,
        hist_bottom - 2.0
    );
    let entries = [
        Entry::Swatch("#4e79a7", "1", "Accuracy"),
        Entry::Swatch("#e15759", "0.3", "Gap to confidence"),
        Entry::Rule("#333", "Perfect calibration"),
        Entry::Swatch("#9a9a9a", "1", "Rows per bin"),
    ];
    draw_legend(&mut out, &entries, right + 16.0, top + 8.0);
    finish(out)
}

/// A legend entry: a line sample with a marker (colour, extra stroke attributes, label),
/// a filled square (colour, opacity, label) or a dashed line (colour, label).
enum Entry<'a> {
    Line(&'a str, &'a str, &'a str),
    Swatch(&'a str, &'a str, &'a str),
    Rule(&'a str, &'a str),
}

/// Legend entries stacked from `(x, y)`, labels cut to 19 characters.
fn draw_legend(out: &mut String, entries: &[Entry<'_>], x: f64, y: f64) {
    w!(out, r##"<g class="legend" font-size="12" fill="#333">"##);
    for (i, entry) in entries.iter().enumerate() {
        let cy = y + 18.0 * i as f64;
        let label = match *entry {
            Entry::Line(colour, dash, label) => {
                w!(
                    out,
                    r#"<line x1="{x:.2}" y1="{cy:.2}" x2="{:.2}" y2="{cy:.2}" stroke="{colour}" stroke-width="2"{dash}/><circle cx="{:.2}" cy="{cy:.2}" r="3.5" fill="{colour}"/>"#,
                    x + 22.0,
                    x + 11.0
                );
                label
            }
            Entry::Rule(colour, label) => {
                w!(
                    out,
                    r#"<line x1="{x:.2}" y1="{cy:.2}" x2="{:.2}" y2="{cy:.2}" stroke="{colour}" stroke-dasharray="5 4"/>"#,
                    x + 22.0
                );
                label
            }
            Entry::Swatch(colour, opacity, label) => {
                w!(
                    out,
                    r#"<rect x="{:.2}" y="{:.2}" width="14" height="10" fill="{colour}" fill-opacity="{opacity}"/>"#,
                    x + 4.0,
                    cy - 5.0
                );
                label
            }
        };
        w!(
            out,
            r#"<text x="{:.2}" y="{:.2}">{}</text>"#,
            x + 28.0,
            cy + 4.0,
            escape(&truncate(label, 19))
        );
    }
    w!(out, "</g>");
}
