//! A labelled scatter chart, [`scatter_svg`]: one point per model with error bars in both
//! directions and its name beside it, e.g. test ROC-AUC against batch-1 latency, one point
//! per student size.

use std::fmt::Write as _;

use super::Chart;
use super::axes::{Axis, HEIGHT, WIDTH, axes, document, escape, finish, fmt_num, no_data, w};

/// Left edge of the plot area (room for y tick labels and the y-axis title).
const LEFT: f64 = 72.0;
/// Right edge of the plot area.
const RIGHT: f64 = WIDTH - 40.0;
/// Colour of ordinary points.
const COLOUR: &str = "#4e79a7";
/// Colour of highlighted points.
const HIGHLIGHT: &str = "#e15759";

/// One point of a [`scatter_svg`]: means and standard deviations (over seeds, say) of x and
/// y; a non-finite, zero or negative std draws no bar in that direction.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    /// Written beside the point (cut to 24 characters) and in its tooltip.
    pub label: String,
    /// Mean x.
    pub x: f64,
    /// Standard deviation of x: a horizontal error bar of ±`x_std`.
    pub x_std: f64,
    /// Mean y.
    pub y: f64,
    /// Standard deviation of y: a vertical error bar of ±`y_std`.
    pub y_std: f64,
    /// Drawn in another colour with a ring around it (e.g. the model picked).
    pub highlight: bool,
}

/// A dashed horizontal line across the plot area with a caption, e.g. the best mean minus a
/// tolerance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceLine<'a> {
    /// Where the line is drawn (skipped when not finite).
    pub y: f64,
    /// Its caption, above the left end of the line.
    pub label: &'a str,
}

/// A point that will be drawn, with its x position (log₂ of x on a log axis).
struct Drawn<'a> {
    point: &'a ScatterPoint,
    pos: f64,
}

/// Labelled points with error bars, joined by a thin dotted line in the order given, as a
/// standalone 640×420 SVG document (`class="pt"` marks each point). Points with a
/// non-finite x or y (or `x <= 0` with `log2_x`) are skipped; none left gives a valid SVG
/// that says "no data". On a log axis a bar that would reach 0 or below is drawn one-sided.
pub fn scatter_svg(
    chart: &Chart<'_>,
    points: &[ScatterPoint],
    reference: Option<ReferenceLine<'_>>,
) -> String {
    let log = chart.log2_x;
    let drawn: Vec<Drawn<'_>> = points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite() && (!log || p.x > 0.0))
        .map(|point| Drawn {
            point,
            pos: if log { point.x.log2() } else { point.x },
        })
        .collect();
    if drawn.is_empty() {
        return no_data(chart.title);
    }
    let reference = reference.filter(|r| r.y.is_finite());
    let (top, bottom) = (44.0, HEIGHT - 60.0);
    let x_axis = if log {
        let xs: Vec<f64> = drawn.iter().map(|d| d.point.x).collect();
        Axis::log2(&xs, (LEFT, RIGHT))
    } else {
        let lows = drawn.iter().map(|d| d.point.x - bar(d.point.x_std));
        let highs = drawn.iter().map(|d| d.point.x + bar(d.point.x_std));
        Axis::linear(
            lows.fold(f64::INFINITY, f64::min),
            highs.fold(f64::NEG_INFINITY, f64::max),
            (LEFT, RIGHT),
        )
    };
    let mut y_lo = drawn.iter().map(|d| d.point.y - bar(d.point.y_std));
    let mut y_hi = drawn.iter().map(|d| d.point.y + bar(d.point.y_std));
    let mut y_min = y_lo.by_ref().fold(f64::INFINITY, f64::min);
    let mut y_max = y_hi.by_ref().fold(f64::NEG_INFINITY, f64::max);
    if let Some(r) = reference {
        (y_min, y_max) = (y_min.min(r.y), y_max.max(r.y));
    }
    let (Some(xa), Some(ya)) = (x_axis, Axis::linear(y_min, y_max, (bottom, top))) else {
        return no_data(chart.title);
    };
    let frame = Frame {
        x: &xa,
        y: &ya,
        log,
    };

    let mut out = document(chart.title);
    axes(&mut out, &xa, &ya, bottom, [chart.x_label, chart.y_label]);
    if let Some(r) = reference {
        let y = ya.px(r.y);
        w!(
            out,
            r##"<g class="reference" stroke="#777" fill="#555" font-size="11"><line x1="{LEFT:.2}" y1="{y:.2}" x2="{RIGHT:.2}" y2="{y:.2}" stroke-dasharray="5 4"/><text x="{:.2}" y="{:.2}" stroke="none">{}</text></g>"##,
            LEFT + 4.0,
            y - 5.0,
            escape(r.label)
        );
    }
    if drawn.len() >= 2 {
        let coords: Vec<String> = drawn
            .iter()
            .map(|d| format!("{:.2},{:.2}", xa.px(d.pos), ya.px(d.point.y)))
            .collect();
        w!(
            out,
            r##"<polyline class="path" fill="none" stroke="#9a9a9a" stroke-width="1" stroke-dasharray="2 3" points="{}"/>"##,
            coords.join(" ")
        );
    }
    w!(out, r#"<g class="points" font-size="11">"#);
    for (i, d) in drawn.iter().enumerate() {
        draw_point(&mut out, d, i, &frame);
    }
    w!(out, "</g>");
    finish(out)
}

/// The half-length of an error bar: the std when it is finite and positive, else 0.
fn bar(std: f64) -> f64 {
    if std.is_finite() && std > 0.0 {
        std
    } else {
        0.0
    }
}

/// The axes of a chart and whether x is on a log₂ scale.
struct Frame<'a> {
    x: &'a Axis,
    y: &'a Axis,
    log: bool,
}

impl Frame<'_> {
    /// The pixel x of the data value `v`, kept inside the plot area.
    fn x_px(&self, v: f64) -> f64 {
        let pos = if self.log { v.log2() } else { v };
        self.x.px(pos).clamp(LEFT, RIGHT)
    }
}

/// One point: its error bars, its marker with a tooltip, a ring when highlighted and its
/// label, above the point for even `i` and below for odd `i` so neighbours overlap less.
fn draw_point(out: &mut String, d: &Drawn<'_>, i: usize, frame: &Frame<'_>) {
    let (xa, ya) = (frame.x, frame.y);
    let p = d.point;
    let colour = if p.highlight { HIGHLIGHT } else { COLOUR };
    let (cx, cy) = (xa.px(d.pos), ya.px(p.y));
    w!(
        out,
        r#"<g class="point" stroke="{colour}" fill="{colour}">"#
    );
    let (xs, ys) = (bar(p.x_std), bar(p.y_std));
    if ys > 0.0 {
        let (y1, y2) = (ya.px(p.y - ys), ya.px(p.y + ys));
        w!(
            out,
            r#"<path class="err" stroke-width="1.5" d="M{cx:.2} {y1:.2}V{y2:.2}M{:.2} {y1:.2}h8M{:.2} {y2:.2}h8"/>"#,
            cx - 4.0,
            cx - 4.0
        );
    }
    if xs > 0.0 {
        let lower = p.x - xs;
        let x1 = if frame.log && lower <= 0.0 {
            cx
        } else {
            frame.x_px(lower)
        };
        let x2 = frame.x_px(p.x + xs);
        w!(
            out,
            r#"<path class="err-x" stroke-width="1.5" d="M{x1:.2} {cy:.2}H{x2:.2}M{x1:.2} {:.2}v8M{x2:.2} {:.2}v8"/>"#,
            cy - 4.0,
            cy - 4.0
        );
    }
    let spread = |s: f64| {
        if s > 0.0 {
            format!(" ± {}", fmt_num(s))
        } else {
            String::new()
        }
    };
    w!(
        out,
        r#"<circle class="pt" cx="{cx:.2}" cy="{cy:.2}" r="4"><title>{}: x = {}{}, y = {}{}</title></circle>"#,
        escape(&p.label),
        fmt_num(p.x),
        spread(xs),
        fmt_num(p.y),
        spread(ys)
    );
    if p.highlight {
        w!(
            out,
            r#"<circle class="ring" cx="{cx:.2}" cy="{cy:.2}" r="8" fill="none" stroke-width="1.5"/>"#
        );
    }
    let ly = if i.is_multiple_of(2) {
        cy - 10.0
    } else {
        cy + 19.0
    };
    w!(
        out,
        r#"<text class="pt-label" x="{cx:.2}" y="{ly:.2}" stroke="none" text-anchor="middle">{}</text>"#,
        escape(&super::axes::truncate(&p.label, 24))
    );
    w!(out, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: Chart<'static> = Chart {
        title: "ROC-AUC against latency",
        x_label: "latency µs",
        y_label: "ROC-AUC",
        log2_x: true,
    };

    fn point(label: &str, x: f64, y: f64, highlight: bool) -> ScatterPoint {
        ScatterPoint {
            label: label.into(),
            x,
            x_std: 0.1 * x,
            y,
            y_std: 0.01,
            highlight,
        }
    }

    /// Every element opened is closed, in order (a small XML-ish check: tags, self-closing
    /// tags, text and `<title>` children).
    fn assert_balanced(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>\n"), "{svg}");
        let mut stack: Vec<String> = Vec::new();
        for part in svg.split('<').skip(1) {
            let tag = part.split('>').next().unwrap();
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if tag.starts_with('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "{svg}");
            } else if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    fn count(svg: &str, class: &str) -> usize {
        svg.matches(&format!("class=\"{class}\"")).count()
    }

    #[test]
    fn one_labelled_point_per_size_with_bars_a_ring_and_the_reference() {
        let points = [
            point("linear", 0.05, 0.80, true),
            point("MLP 71-4-2", 0.12, 0.81, false),
            point("MLP 71-8-2", 0.2, 0.812, false),
            point("MLP <71>-32-2", 0.6, 0.805, false),
        ];
        let reference = ReferenceLine {
            y: 0.807,
            label: "best − 0.005",
        };
        let svg = scatter_svg(&CHART, &points, Some(reference));
        assert_balanced(&svg);
        assert_eq!(count(&svg, "pt"), 4);
        assert_eq!(count(&svg, "pt-label"), 4);
        assert_eq!(count(&svg, "err"), 4);
        assert_eq!(count(&svg, "err-x"), 4);
        assert_eq!(count(&svg, "ring"), 1);
        assert_eq!(count(&svg, "reference"), 1);
        assert_eq!(count(&svg, "path"), 1);
        for text in [
            "linear",
            "MLP 71-8-2",
            "MLP &lt;71&gt;-32-2",
            "best − 0.005",
        ] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
        // Left to right in latency order on the log axis.
        let xs: Vec<f64> = svg
            .split(r#"class="pt" cx=""#)
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    }

    #[test]
    fn undrawable_points_are_skipped_and_none_left_says_no_data() {
        let points = [
            point("a", 0.0, 0.8, false),      // no log of 0
            point("b", 1.0, f64::NAN, false), // no y
            point("c", 2.0, 0.9, false),
        ];
        let svg = scatter_svg(&CHART, &points, None);
        assert_balanced(&svg);
        assert_eq!(count(&svg, "pt"), 1);
        assert_eq!(count(&svg, "path"), 0);
        let none = scatter_svg(&CHART, &points[..2], None);
        assert_balanced(&none);
        assert!(none.contains("no data") && count(&none, "pt") == 0);
        // On a linear axis x = 0 is a point.
        let linear = Chart {
            log2_x: false,
            ..CHART
        };
        let svg = scatter_svg(&linear, &points, None);
        assert_balanced(&svg);
        assert_eq!(count(&svg, "pt"), 2);
    }

    #[test]
    fn a_bar_reaching_zero_on_a_log_axis_is_one_sided() {
        let wide = ScatterPoint {
            x_std: 2.0,
            ..point("wide", 1.0, 0.8, false)
        };
        let svg = scatter_svg(&CHART, &[wide, point("b", 4.0, 0.82, false)], None);
        assert_balanced(&svg);
        assert_eq!(count(&svg, "err-x"), 2);
    }
}
