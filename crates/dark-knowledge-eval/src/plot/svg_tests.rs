//! Tests of the SVG charts (a module of `plot.rs`'s tests, split out for length).

use super::*;

/// Checks the document shell, balanced groups and text elements, and that no non-finite
/// number leaked into the output.
fn assert_well_formed(svg: &str) {
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>\n"), "{svg}");
    assert_eq!(svg.matches("<svg").count(), 1, "{svg}");
    let opened = svg.matches("<g ").count() + svg.matches("<g>").count();
    assert_eq!(opened, svg.matches("</g>").count(), "{svg}");
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    assert!(svg.contains(r#"fill="white""#));
    assert!(!svg.contains("NaN"), "{svg}");
    assert!(!svg.contains("inf"), "{svg}");
}

fn count(svg: &str, class: &str) -> usize {
    svg.matches(&format!("class=\"{class}\"")).count()
}

/// The `cx` of every marker, in document order.
fn marker_xs(svg: &str) -> Vec<f64> {
    svg.split(r#"class="pt" cx=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

const CHART: Chart<'static> = Chart {
    title: "Accuracy vs temperature",
    x_label: "Temperature",
    y_label: "Accuracy",
    log2_x: true,
};

fn series(label: &str, points: &[(f64, f64, f64)]) -> Series {
    Series {
        label: label.into(),
        points: points.to_vec(),
    }
}

#[test]
fn line_chart_has_one_marker_per_finite_point_and_one_bar_per_positive_std() {
    let runs = [
        // 3 finite points (x = 8 has a NaN mean), 1 bar (std 0 and NaN draw none).
        series(
            "kd",
            &[
                (1.0, 0.80, 0.02),
                (2.0, 0.85, 0.0),
                (4.0, 0.90, f64::NAN),
                (8.0, f64::NAN, 0.1),
            ],
        ),
        // 2 finite points (x = ∞ and x = 0, which has no log2, are skipped), 2 bars.
        series(
            "baseline",
            &[
                (1.0, 0.70, 0.05),
                (2.0, 0.75, 0.05),
                (f64::INFINITY, 0.7, 0.1),
                (0.0, 0.7, 0.1),
            ],
        ),
    ];
    let svg = line_chart_svg(&CHART, &runs);
    assert_well_formed(&svg);
    assert_eq!(count(&svg, "pt"), 5);
    assert_eq!(count(&svg, "err"), 3);
    assert_eq!(count(&svg, "series"), 2);
    assert_eq!(count(&svg, "legend"), 1);
    assert!(svg.contains(r##"stroke="#4e79a7""##) && svg.contains(r##"stroke="#f28e2b""##));
    for text in [
        "Accuracy vs temperature",
        "Temperature",
        ">kd<",
        ">baseline<",
    ] {
        assert!(svg.contains(text), "{text}");
    }
}

#[test]
fn log2_axis_places_powers_of_two_evenly_and_labels_them_with_x() {
    let sizes = series(
        "student",
        &[
            (16.0, 0.8, 0.0),
            (32.0, 0.84, 0.0),
            (64.0, 0.86, 0.0),
            (128.0, 0.87, 0.0),
        ],
    );
    let svg = line_chart_svg(&CHART, std::slice::from_ref(&sizes));
    assert_well_formed(&svg);
    for label in [">16<", ">32<", ">64<", ">128<"] {
        assert!(svg.contains(label), "{label}");
    }
    let xs = marker_xs(&svg);
    assert_eq!(xs.len(), 4);
    let steps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps
            .iter()
            .all(|s| (s - steps[0]).abs() < 0.05 && *s > 0.0),
        "{steps:?}"
    );
    // One series: no legend. A linear axis puts 16 → 32 closer than 64 → 128.
    assert_eq!(count(&svg, "legend"), 0);
    let linear = Chart {
        log2_x: false,
        ..CHART
    };
    let xs = marker_xs(&line_chart_svg(&linear, &[sizes]));
    assert!(xs[3] - xs[2] > 3.0 * (xs[1] - xs[0]), "{xs:?}");
}

#[test]
fn equal_values_still_get_a_y_range() {
    let flat = series("flat", &[(1.0, 0.9, 0.0), (2.0, 0.9, 0.0), (3.0, 0.9, 0.0)]);
    let chart = Chart {
        log2_x: false,
        ..CHART
    };
    let svg = line_chart_svg(&chart, &[flat]);
    assert_well_formed(&svg);
    // y padded by 0.045 and widened to steps of 0.02: ticks 0.84 … 0.96.
    for label in [">0.84<", ">0.90<", ">0.96<"] {
        assert!(svg.contains(label), "{label}\n{svg}");
    }
    // A single point at x = 4 on a log axis, with an error bar.
    let one = line_chart_svg(&CHART, &[series("one", &[(4.0, 0.5, 0.1)])]);
    assert_well_formed(&one);
    assert_eq!((count(&one, "pt"), count(&one, "err")), (1, 1));
    assert!(one.contains(">4<"));
}

#[test]
fn text_is_escaped() {
    let chart = Chart {
        title: "a <&> b",
        x_label: "\"x\"",
        y_label: "it's",
        log2_x: false,
    };
    let runs = [
        series("<&>", &[(1.0, 1.0, 0.0)]),
        series("second", &[(2.0, 2.0, 0.0)]),
    ];
    let svg = line_chart_svg(&chart, &runs);
    assert_well_formed(&svg);
    assert!(!svg.contains("<&>"));
    assert!(svg.contains("a &lt;&amp;&gt; b"));
    assert!(svg.contains(">&lt;&amp;&gt;<"), "legend label");
    assert!(svg.contains("&quot;x&quot;") && svg.contains("it&apos;s"));
    let rel = reliability_svg("<&>", &[]);
    assert_well_formed(&rel);
    assert!(rel.contains("&lt;&amp;&gt;") && !rel.contains("<&>"));
}

#[test]
fn nan_and_empty_inputs_give_the_no_data_chart() {
    let nan = series("nan", &[(f64::NAN, 1.0, 0.1), (1.0, f64::NAN, 0.1)]);
    let huge = series("huge", &[(-1e308, 0.0, 0.0), (1e308, 1e308, 1e308)]);
    let linear = Chart {
        log2_x: false,
        ..CHART
    };
    let charts = [
        line_chart_svg(&CHART, &[]),
        line_chart_svg(&CHART, &[series("empty", &[])]),
        line_chart_svg(&CHART, &[nan]),
        line_chart_svg(&CHART, &[series("nonpositive", &[(0.0, 1.0, 0.0)])]),
        line_chart_svg(&linear, &[huge]),
        reliability_svg("r", &[]),
        reliability_svg(
            "r",
            &reliability_bins(&[1.0, 0.0], 2, &[0], 4).unwrap()[..3],
        ),
        reliability_svg(
            "r",
            &[ReliabilityBin {
                lower: 0.0,
                upper: 1.0,
                count: 3,
                mean_confidence: 0.5,
                accuracy: f64::NAN,
            }],
        ),
    ];
    for svg in &charts {
        assert_well_formed(svg);
        assert!(svg.contains(">no data<"), "{svg}");
        assert_eq!(count(svg, "pt") + count(svg, "bar"), 0);
    }
}

#[test]
fn reliability_diagram_draws_non_empty_bins_the_diagonal_and_the_ece() {
    // Bins of the hand-made case in plot.rs: 4 bins, bin 0 empty, ECE 1/3.
    let probs = [
        0.9f32, 0.05, 0.05, 0.1, 0.8, 0.1, 0.5, 0.3, 0.2, 0.2, 0.6, 0.2, 0.4, 0.3, 0.3, 0.2, 0.2,
        0.6,
    ];
    let bins = reliability_bins(&probs, 3, &[0, 0, 0, 2, 0, 2], 4).unwrap();
    let svg = reliability_svg("Teacher", &bins);
    assert_well_formed(&svg);
    assert_eq!(count(&svg, "bar"), 3);
    assert_eq!(count(&svg, "gap"), 3);
    assert_eq!(count(&svg, "count"), 3);
    assert_eq!(count(&svg, "diag"), 1);
    assert!(svg.contains("ECE = 0.3333 (n = 6, 4 bins)"), "{svg}");
    assert!(svg.contains(">Teacher<") && svg.contains(">Perfect calibration<"));
    assert!(!svg.contains("no data"));
    // Pooled bins draw the same way.
    let pooled = pool_bins(&[bins.clone(), bins]).unwrap();
    let svg = reliability_svg("Pooled", &pooled);
    assert_well_formed(&svg);
    assert!(svg.contains("ECE = 0.3333 (n = 12, 4 bins)"));
}
