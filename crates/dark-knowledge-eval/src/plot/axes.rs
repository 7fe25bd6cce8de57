//! Building blocks of the SVG charts: the document shell, axis ranges and ticks, number
//! formatting and XML escaping. Every number written is finite by construction: ranges
//! that cannot be drawn make the axis constructors return `None`.

use std::fmt::Write as _;

/// Width of every chart in pixels.
pub(super) const WIDTH: f64 = 640.0;
/// Height of every chart in pixels.
pub(super) const HEIGHT: f64 = 420.0;

/// `writeln!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(super) use w;

/// Escapes `& < > " '` for XML text and attribute values and drops the control
/// characters XML 1.0 does not allow.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` characters, the last one an ellipsis when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A finite number in at most four decimals without trailing zeros (`16`, `0.5`,
/// `0.8123`), or in scientific notation when very large or small.
pub(super) fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    if !(1e-3..1e6).contains(&v.abs()) {
        return format!("{v:.2e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Start of a chart: the `<svg>` element, a white background and the title.
pub(super) fn document(title: &str) -> String {
    let mut out = String::new();
    w!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">"#
    );
    w!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    w!(
        out,
        r#"<text class="title" x="{}" y="26" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    out
}

/// Closes a chart started by [`document`].
pub(super) fn finish(mut out: String) -> String {
    out.push_str("</svg>\n");
    out
}

/// A chart with only its title and the words "no data".
pub(super) fn no_data(title: &str) -> String {
    let mut out = document(title);
    w!(
        out,
        r##"<g class="no-data"><text x="{}" y="{}" text-anchor="middle" font-size="16" fill="#777">no data</text></g>"##,
        WIDTH / 2.0,
        HEIGHT / 2.0
    );
    finish(out)
}

/// A data range mapped linearly onto a pixel range, with labelled ticks.
pub(super) struct Axis {
    lo: f64,
    hi: f64,
    px_lo: f64,
    px_hi: f64,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// Pixel coordinate of the data value `v` (`px_lo` at `lo`, `px_hi` at `hi`).
    pub(super) fn px(&self, v: f64) -> f64 {
        self.px_lo + (v - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo)
    }

    /// `[lo, hi]` with a tick every `step` from `lo`.
    pub(super) fn fixed(lo: f64, hi: f64, step: f64, px: (f64, f64)) -> Axis {
        let n = ((hi - lo) / step).round() as usize;
        let ticks = (0..=n)
            .map(|k| lo + k as f64 * step)
            .map(|v| (v, fmt_num(v)))
            .collect();
        Axis {
            lo,
            hi,
            px_lo: px.0,
            px_hi: px.1,
            ticks,
        }
    }

    /// A range around `[min, max]` padded by 5% of the span (or by 5% of the value, at
    /// least 0.01, when all values are equal) and widened to round tick steps of 1, 2 or 5
    /// times a power of ten.
    pub(super) fn linear(min: f64, max: f64, px: (f64, f64)) -> Option<Axis> {
        let span = max - min;
        let pad = if span > 0.0 {
            0.05 * span
        } else {
            (0.05 * min.abs()).max(0.01)
        };
        let step = nice_step((max - min + 2.0 * pad) / 5.0)?;
        let lo = ((min - pad) / step).floor() * step;
        let hi = ((max + pad) / step).ceil() * step;
        if !(lo.is_finite() && hi.is_finite() && hi > lo) || (hi - lo) / step > 20.0 {
            return None;
        }
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        let label = |v: f64| {
            if (1e-4..1e5).contains(&step) {
                format!("{:.*}", decimals, if v == 0.0 { 0.0 } else { v })
            } else {
                fmt_num(v)
            }
        };
        let first = (lo / step).round() as i64;
        let last = (hi / step).round() as i64;
        let ticks = (first..=last)
            .map(|k| k as f64 * step)
            .map(|v| (v, label(v)))
            .collect();
        Some(Axis {
            lo,
            hi,
            px_lo: px.0,
            px_hi: px.1,
            ticks,
        })
    }

    /// A range in `log2(x)` around the positive values `xs`, with ticks at the distinct
    /// values (at powers of two when there are more than 12) labelled with the values
    /// themselves; ticks closer than 30 pixels to the previous one are dropped.
    pub(super) fn log2(xs: &[f64], px: (f64, f64)) -> Option<Axis> {
        let logs = || xs.iter().map(|x| x.log2());
        let min = logs().fold(f64::INFINITY, f64::min);
        let max = logs().fold(f64::NEG_INFINITY, f64::max);
        let span = max - min;
        let pad = if span > 0.0 { 0.06 * span } else { 0.5 };
        let (lo, hi) = (min - pad, max + pad);
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return None;
        }
        let mut values = xs.to_vec();
        values.sort_by(f64::total_cmp);
        values.dedup();
        if values.len() > 12 {
            let powers: Vec<f64> = (lo.ceil() as i32..=hi.floor() as i32)
                .map(|k| 2f64.powi(k))
                .collect();
            if powers.len() >= 2 {
                let every = powers.len().div_ceil(10);
                values = powers.into_iter().step_by(every).collect();
            } else {
                values = vec![values[0], values[values.len() - 1]];
            }
        }
        let mut axis = Axis {
            lo,
            hi,
            px_lo: px.0,
            px_hi: px.1,
            ticks: Vec::new(),
        };
        for v in values {
            let pos = v.log2();
            let far = |&(prev, _): &(f64, String)| (axis.px(pos) - axis.px(prev)).abs() >= 30.0;
            if axis.ticks.last().is_none_or(far) {
                axis.ticks.push((pos, fmt_num(v)));
            }
        }
        Some(axis)
    }
}

/// The smallest of 1, 2, 5 or 10 times a power of ten that is at least `raw`.
fn nice_step(raw: f64) -> Option<f64> {
    if !(raw.is_finite() && raw > 0.0) {
        return None;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw * (1.0 - 1e-9))?;
    (step.is_finite() && step > 0.0).then_some(step)
}

/// Grid lines, the axis lines with tick marks and labels, and the axis titles. The y axis
/// runs from the top of `y` down to `x_axis_at`, where the x axis is drawn.
pub(super) fn axes(out: &mut String, x: &Axis, y: &Axis, x_axis_at: f64, labels: [&str; 2]) {
    let (left, right, top) = (x.px_lo, x.px_hi, y.px_hi);
    w!(
        out,
        r##"<g class="grid" stroke="#e6e6e6" stroke-width="1">"##
    );
    for (v, _) in &y.ticks {
        let py = y.px(*v);
        w!(
            out,
            r#"<line x1="{left:.2}" y1="{py:.2}" x2="{right:.2}" y2="{py:.2}"/>"#
        );
    }
    for (v, _) in &x.ticks {
        let px = x.px(*v);
        w!(
            out,
            r#"<line x1="{px:.2}" y1="{top:.2}" x2="{px:.2}" y2="{x_axis_at:.2}"/>"#
        );
    }
    w!(out, "</g>");
    let mut d = format!("M{left:.2} {top:.2}V{x_axis_at:.2}H{right:.2}");
    for (v, _) in &x.ticks {
        let _ = write!(d, "M{:.2} {x_axis_at:.2}v5", x.px(*v));
    }
    for (v, _) in &y.ticks {
        let _ = write!(d, "M{left:.2} {:.2}h-5", y.px(*v));
    }
    w!(
        out,
        r##"<g class="axes" stroke="#333" stroke-width="1" fill="none"><path d="{d}"/></g>"##
    );
    w!(
        out,
        r##"<g class="tick-labels" font-size="11" fill="#333">"##
    );
    for (v, label) in &x.ticks {
        w!(
            out,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            x.px(*v),
            x_axis_at + 18.0,
            escape(label)
        );
    }
    for (v, label) in &y.ticks {
        w!(
            out,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y.px(*v) + 4.0,
            escape(label)
        );
    }
    w!(out, "</g>");
    w!(
        out,
        r#"<text class="x-label" x="{:.2}" y="{:.2}" text-anchor="middle" font-size="13">{}</text>"#,
        (left + right) / 2.0,
        x_axis_at + 42.0,
        escape(labels[0])
    );
    w!(
        out,
        r#"<text class="y-label" transform="translate(18 {:.2}) rotate(-90)" text-anchor="middle" font-size="13">{}</text>"#,
        (y.px_lo + y.px_hi) / 2.0,
        escape(labels[1])
    );
}
