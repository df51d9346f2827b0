//! Tests of the charts: documents are checked to be well-formed SVG holding the expected text,
//! bad data to be an error, and the axis, tick and step helpers directly.

use super::axis::Axis;
use super::testing::svg_texts;
use super::*;

fn has(texts: &[String], want: &str) -> bool {
    texts.iter().any(|t| t == want)
}

fn lines(doc: &str) -> usize {
    doc.matches("<line ").count()
}

fn two_series() -> Chart {
    Chart::new("Latency", "clients", "latency (ms)")
        .series(Series::line(
            "loadpart",
            [(1.0, 10.0), (2.0, 12.0), (4.0, 15.0)],
        ))
        .series(
            Series::scatter("neurosurgeon", [(1.0, 11.0), (2.0, 19.0)])
                .marker(Marker::Square)
                .line_style(Line::Dashed),
        )
        .legend_title("policy")
}

#[test]
fn a_chart_is_valid_svg_with_its_titles_and_legend() {
    let doc = two_series().to_svg((640, 400)).unwrap();
    assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
    let texts = svg_texts(&doc);
    for want in [
        "Latency",
        "clients",
        "latency (ms)",
        "policy",
        "loadpart",
        "neurosurgeon",
    ] {
        assert!(has(&texts, want), "no {want:?} in {texts:?}");
    }
    // The auto y range is rounded out to ticks: 10..19 padded, in steps of 2.
    assert!(has(&texts, "8") && has(&texts, "20"), "{texts:?}");
    // The legend also fits inside the plot, or goes away.
    let inside = svg_texts(
        &two_series()
            .legend(Legend::Inside)
            .to_svg((640, 400))
            .unwrap(),
    );
    assert!(has(&inside, "neurosurgeon"));
    let hidden = svg_texts(
        &two_series()
            .legend(Legend::Hidden)
            .to_svg((640, 400))
            .unwrap(),
    );
    assert!(!has(&hidden, "neurosurgeon") && !has(&hidden, "policy"));
}

#[test]
fn text_is_escaped() {
    let doc = Chart::new("a<b & \"c\" 'd'", "x", "y")
        .series(Series::line("p95 <= 10 ms", [(0.0, 1.0), (1.0, 2.0)]))
        .to_svg((400, 300))
        .unwrap();
    let texts = svg_texts(&doc);
    assert!(has(&texts, "a<b & \"c\" 'd'"), "{texts:?}");
    assert!(has(&texts, "p95 <= 10 ms"), "{texts:?}");
}

#[test]
fn error_bars_are_drawn() {
    let points = [(1.0, 10.0), (2.0, 12.0), (3.0, 11.0)];
    let plain = Chart::new("t", "x", "y").series(Series::line("s", points));
    let with = plain.clone().series(Series::scatter("e", points).errors([
        (9.0, 11.0),
        (11.5, 13.0),
        (10.0, 12.0),
    ]));
    let without = plain
        .clone()
        .series(Series::scatter("e", points))
        .y_range(8.0, 14.0);
    let (with, without) = (
        with.y_range(8.0, 14.0).to_svg((500, 300)).unwrap(),
        without.to_svg((500, 300)).unwrap(),
    );
    svg_texts(&with);
    // Each error bar: a vertical line and two whiskers.
    assert_eq!(lines(&with), lines(&without) + 3 * points.len());
    // The error bars widen the automatic y range.
    let auto = Chart::new("t", "x", "y")
        .series(Series::scatter("e", [(1.0, 10.0)]).errors([(0.0, 50.0)]))
        .to_svg((500, 300))
        .unwrap();
    assert!(has(&svg_texts(&auto), "50"), "{:?}", svg_texts(&auto));
}

#[test]
fn error_bars_must_enclose_their_point() {
    let bad = Chart::new("t", "x", "y")
        .series(Series::line("s", [(1.0, 10.0)]).errors([(11.0, 12.0)]))
        .to_svg((300, 200))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("does not enclose y = 10"), "{bad}");
    let count = Chart::new("t", "x", "y")
        .series(Series::line("s", [(1.0, 10.0), (2.0, 3.0)]).errors([(9.0, 12.0)]))
        .to_svg((300, 200))
        .unwrap_err()
        .to_string();
    assert!(count.contains("2 points but 1 error bars"), "{count}");
}

#[test]
fn log_x_takes_only_positive_x() {
    let chart = |x0: f64| {
        Chart::new("t", "bandwidth", "y")
            .log_x()
            .series(Series::line("s", [(x0, 1.0), (10.0, 2.0), (1000.0, 3.0)]))
    };
    let texts = svg_texts(&chart(1.0).to_svg((600, 300)).unwrap());
    for tick in ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"] {
        assert!(has(&texts, tick), "no tick {tick} in {texts:?}");
    }
    for x0 in [0.0, -1.0] {
        let err = chart(x0).to_svg((600, 300)).unwrap_err().to_string();
        assert!(err.contains("log x axis cannot show x"), "{err}");
    }
    let err = chart(1.0)
        .x_range(0.0, 10.0)
        .to_svg((600, 300))
        .unwrap_err();
    assert!(err.to_string().contains("log x axis"), "{err}");
    let err = chart(1.0).vline(-5.0, "v").to_svg((600, 300)).unwrap_err();
    assert!(err.to_string().contains("x = -5"), "{err}");
    let bars = StackedBars::new(vec![("a".into(), PALETTE[0])], vec![vec![1.0]]);
    let err = chart(1.0).bars(bars).to_svg((600, 300)).unwrap_err();
    assert!(err.to_string().contains("linear x axis"), "{err}");
}

#[test]
fn empty_or_bad_data_is_an_error() {
    let empty = Chart::new("t", "x", "y")
        .series(Series::line("nothing", Vec::new()))
        .to_svg((300, 200))
        .unwrap_err();
    assert!(empty.to_string().contains("series 'nothing' has no points"));
    let none = Chart::new("t", "x", "y").to_svg((300, 200)).unwrap_err();
    assert!(none.to_string().contains("no series"), "{none}");
    let nan = Chart::new("t", "x", "y")
        .series(Series::line("s", [(1.0, f64::NAN)]))
        .to_svg((300, 200))
        .unwrap_err();
    assert!(nan.to_string().contains("not finite"), "{nan}");
    let range = Chart::new("t", "x", "y")
        .series(Series::line("s", [(1.0, 1.0)]))
        .y_range(2.0, 2.0)
        .to_svg((300, 200))
        .unwrap_err();
    assert!(range.to_string().contains("y range"), "{range}");
    let bar = StackedBars::new(vec![("a".into(), PALETTE[0])], vec![vec![-1.0]]);
    let bar = Chart::new("t", "x", "y")
        .bars(bar)
        .to_svg((300, 200))
        .unwrap_err();
    assert!(bar.to_string().contains("negative"), "{bar}");
    let figure = Figure::new("f").to_svg((300, 200)).unwrap_err();
    assert!(figure.to_string().contains("no panels"), "{figure}");
    // A bad panel fails the whole figure.
    let figure = Figure::new("f")
        .panel(two_series())
        .panel(Chart::new("t", "x", "y"))
        .to_svg((300, 200))
        .unwrap_err();
    assert!(figure.to_string().contains("no series"), "{figure}");
}

#[test]
fn one_point_and_flat_data_still_draw() {
    let doc = Chart::new("t", "x", "y")
        .series(Series::line("s", [(3.0, 7.0)]))
        .to_svg((300, 200))
        .unwrap();
    svg_texts(&doc);
    let doc = Chart::new("t", "x", "y")
        .log_x()
        .series(Series::line("s", [(5.0, 0.0), (5.0, 0.0)]))
        .to_svg((300, 200))
        .unwrap();
    svg_texts(&doc);
}

#[test]
fn figures_stack_panels_and_annotations() {
    let bars = StackedBars::new(
        vec![("low".into(), PALETTE[0]), ("high".into(), PALETTE[1])],
        vec![vec![1.0, 2.0], vec![2.0, 40.0], vec![0.5, 0.5]],
    );
    let top = Chart::new("Bars", "bar", "ms")
        .bars(bars)
        .y_range(0.0, 5.0)
        .pointer((2.0, 1.0), "chosen")
        .note("clipped");
    let bottom = two_series()
        .vline(3.0, "given")
        .label((1.0, 10.0), "start", Anchor::End, (0, 0));
    let path = std::env::temp_dir().join(format!("loadpart-chart-{}.svg", std::process::id()));
    Figure::new("Figure")
        .subtitle("two panels")
        .panel(top)
        .panel(bottom)
        .write_svg(&path, (800, 700))
        .unwrap();
    let doc = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let texts = svg_texts(&doc);
    for want in [
        "Figure",
        "two panels",
        "Bars",
        "Latency",
        "chosen",
        "clipped",
        "given",
        "start",
        "high",
        "low",
        "loadpart",
    ] {
        assert!(has(&texts, want), "no {want:?} in {texts:?}");
    }
    // Bars are labelled by whole numbers only.
    assert!(
        has(&texts, "0") && has(&texts, "2") && !has(&texts, "0.5"),
        "{texts:?}"
    );
}

#[test]
fn linear_ticks_are_round() {
    assert_eq!(nice_range(0.0, 87.0), (0.0, 100.0));
    assert_eq!(nice_range(3.0, 3.0), (1.5, 4.5));
    let (lo, hi) = nice_range(0.0, 0.37);
    assert!(lo == 0.0 && (hi - 0.4).abs() < 1e-12, "{hi}");
    let labels: Vec<String> = Axis::linear(0.0, 100.0, false)
        .bold
        .into_iter()
        .map(format_number)
        .collect();
    assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
    assert_eq!(Axis::linear(-0.5, 2.5, true).bold, [0.0, 1.0, 2.0]);
    // A rounded range has a tick at both ends.
    for (lo, hi) in [
        (-2.5, 52.5),
        (0.0, 0.37),
        (3.0, 3.0),
        (-7.0, 1234.0),
        (0.1, 0.11),
    ] {
        let (lo, hi) = nice_range(lo, hi);
        let ticks = Axis::linear(lo, hi, false).bold;
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        assert!(
            (first - lo).abs() < 1e-9 && (last - hi).abs() < 1e-9,
            "{ticks:?}"
        );
    }
    assert_eq!(format_number(-0.0001), "0");
    assert_eq!(format_number(2.50), "2.5");
}

#[test]
fn log_ticks_label_1_2_5() {
    let axis = Axis::log(1.0, 1000.0);
    let labels: Vec<String> = axis.bold.iter().copied().map(format_number).collect();
    assert_eq!(
        labels,
        ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"]
    );
    assert_eq!(axis.bold.len() + axis.light.len(), 28);
    assert!((axis.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
    // Over more than four decades only powers of ten are labelled.
    assert_eq!(Axis::log(0.01, 1000.0).bold.len(), 6);
}

#[test]
fn steps_hold_until_the_next_point() {
    assert_eq!(
        steps(&[(1.0, 1.0), (2.0, 0.5)]),
        [(1.0, 1.0), (2.0, 1.0), (2.0, 0.5)]
    );
}
