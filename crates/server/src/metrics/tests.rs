use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

/// Parses the text format strictly enough to catch malformed output: `# HELP`/`# TYPE` lines,
/// and samples `name{k="v",...} value` with a finite or infinite float value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line:?}");
        }
        assert!(
            out.insert(series.to_string(), v).is_none(),
            "repeated {series}"
        );
    }
    out
}

#[test]
fn renders_parseable_text_with_moving_counters() {
    let m = Metrics::new(&["a", "b"], 8);
    let before = parse(&m.render(Gauges::default()));
    assert_eq!(
        before["loadpart_requests_total{model=\"a\",code=\"OK\"}"],
        0.0
    );

    m.request_ok("a", Duration::from_millis(3), Duration::from_millis(1));
    m.request_ok("a", Duration::from_millis(30), Duration::from_millis(20));
    m.batch("a", 3, Duration::from_millis(2));
    m.request_failed("a", tonic::Code::ResourceExhausted, "queue_full");
    m.request_failed("zzz", tonic::Code::NotFound, "unknown_model");
    let g = Gauges {
        queue_length: 5,
        in_flight: 7,
        executors_busy: 1,
        executors: 2,
    };
    let after = parse(&m.render(g));
    assert_eq!(after["loadpart_queue_length"], 5.0);
    assert_eq!(
        after["loadpart_requests_total{model=\"a\",code=\"OK\"}"],
        2.0
    );
    assert_eq!(
        after["loadpart_requests_total{model=\"a\",code=\"RESOURCE_EXHAUSTED\"}"],
        1.0
    );
    assert_eq!(
        after["loadpart_rejections_total{model=\"a\",reason=\"queue_full\"}"],
        1.0
    );
    // An unknown model's name is not a label value.
    assert_eq!(
        after["loadpart_request_errors_total{model=\"unknown\",code=\"NOT_FOUND\",error=\"unknown_model\"}"],
        1.0
    );
    let h = "loadpart_request_duration_seconds";
    assert_eq!(after[&format!("{h}_count{{model=\"a\"}}")], 2.0);
    assert!((after[&format!("{h}_sum{{model=\"a\"}}")] - 0.033).abs() < 1e-9);
    // Buckets are cumulative: 3 ms is under 6.4 ms, 30 ms is not.
    assert_eq!(
        after[&format!("{h}_bucket{{model=\"a\",le=\"0.0064\"}}")],
        1.0
    );
    assert_eq!(
        after[&format!("{h}_bucket{{model=\"a\",le=\"+Inf\"}}")],
        2.0
    );
    // Batch sizes: powers of two up to the max.
    let b = "loadpart_batch_size_bucket";
    assert_eq!(after[&format!("{b}{{model=\"a\",le=\"2\"}}")], 0.0);
    assert_eq!(after[&format!("{b}{{model=\"a\",le=\"4\"}}")], 1.0);
    assert_eq!(after[&format!("{b}{{model=\"a\",le=\"8\"}}")], 1.0);
    assert_eq!(after[&format!("{b}{{model=\"b\",le=\"+Inf\"}}")], 0.0);
}

#[test]
fn batch_buckets_end_at_the_max() {
    assert_eq!(batch_buckets(1), vec![1.0]);
    assert_eq!(batch_buckets(6), vec![1.0, 2.0, 4.0, 6.0]);
    assert_eq!(batch_buckets(8), vec![1.0, 2.0, 4.0, 8.0]);
}

#[test]
fn fair_share_and_unauthenticated_refusals_are_counted_by_device() {
    let m = Metrics::new(&["a"], 8);
    let before = parse(&m.render(Gauges::default()));
    assert_eq!(before["loadpart_unauthenticated_total"], 0.0);
    m.share_refused("phone-1", "rate");
    m.share_refused("phone-1", "rate");
    m.share_refused("say \"hi\"", "queued");
    m.unauthenticated_counter().inc_by(3);
    let after = parse(&m.render(Gauges::default()));
    assert_eq!(
        after["loadpart_fair_share_refusals_total{device=\"phone-1\",reason=\"rate\"}"],
        2.0
    );
    assert_eq!(
        after["loadpart_fair_share_refusals_total{device=\"say \\\"hi\\\"\",reason=\"queued\"}"],
        1.0
    );
    assert_eq!(after["loadpart_unauthenticated_total"], 3.0);
    // Self-declared names cannot grow the label set without bound.
    for i in 0..2 * MAX_DEVICE_LABELS {
        m.share_refused(&format!("d{i}"), "rate");
    }
    let text = m.render(Gauges::default());
    let series = text
        .lines()
        .filter(|l| l.starts_with("loadpart_fair_share_refusals_total{"))
        .count();
    assert_eq!(series, MAX_DEVICE_LABELS + 1);
    assert!(text.contains("device=\"(other)\""));
}
