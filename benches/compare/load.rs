//! A load log as the built-in driver writes it at 200 req/s (open model, 1 s intervals,
//! one HDR histogram per interval), read back by the same reader `compare` uses.

use std::io::Cursor;
use std::path::Path;

use hdrhistogram::serialization::V2DeflateSerializer;
use soakprof::runlog::load::{
    ErrorCounts, LatencyMs, LoadInterval, LoadRecord, LoadRun, LoadStart, StageInfo,
    encode_histogram, new_latency_histogram, read_load_records,
};

use crate::rng::Rng;

pub const RATE_RPS: f64 = 200.0;
/// Interval-to-interval drift of the latency (log scale): AR(1) with this coefficient and
/// stationary sd, as a host's background load moves a service's latency.
const DRIFT_PHI: f64 = 0.9;
const DRIFT_SD: f64 = 0.05;
/// Share of requests failing with a bad status.
const ERROR_RATE: f64 = 0.001;

/// Latency of one build: lognormal, drawn once per pair.
pub struct LatencyModel {
    median_ms: f64,
    sigma: f64,
}

impl LatencyModel {
    /// Median 20–40 ms, σ 0.4–0.6 (p95 about 2× to 2.7× the median).
    pub fn draw(rng: &mut Rng) -> LatencyModel {
        LatencyModel {
            median_ms: rng.range(20.0, 40.0),
            sigma: rng.range(0.4, 0.6),
        }
    }
}

/// Requests completed in a 1 s interval: Poisson(200), by its normal approximation.
fn requests(rng: &mut Rng) -> u64 {
    (RATE_RPS + RATE_RPS.sqrt() * rng.normal()).round().max(0.0) as u64
}

/// The load of one run; every latency `1 + slower` times the model's.
pub fn run(model: &LatencyModel, slower: f64, duration_s: u64, rng: &mut Rng) -> LoadRun {
    let mut records = vec![LoadRecord::Start(LoadStart {
        t: 0.0,
        driver: "builtin".into(),
        model: Some("open".into()),
        source: "bench.toml".into(),
        interval_s: 1.0,
        requests: vec![],
        stages: vec![StageInfo {
            name: "steady".into(),
            duration_s: duration_s as f64,
            target: RATE_RPS,
        }],
        max_in_flight: Some(1000),
    })];
    let (mut serializer, mut scratch) = (V2DeflateSerializer::new(), Vec::new());
    let innovation = DRIFT_SD * (1.0 - DRIFT_PHI * DRIFT_PHI).sqrt();
    let mut drift = DRIFT_SD * rng.normal();
    for end in 1..=duration_s {
        let mut hist = new_latency_histogram().expect("latency histogram bounds are valid");
        let n = requests(rng);
        let mut errors = ErrorCounts::default();
        let scale_ms = model.median_ms * drift.exp() * (1.0 + slower);
        for _ in 0..n {
            let ms = scale_ms * (model.sigma * rng.normal()).exp();
            hist.saturating_record((ms * 1000.0).round().max(1.0) as u64);
            if rng.uniform() < ERROR_RATE {
                errors.status += 1;
            }
        }
        records.push(LoadRecord::Interval(LoadInterval {
            t: end as f64,
            dt_s: 1.0,
            level: RATE_RPS,
            active: 6,
            requests: n,
            errors,
            rps: n as f64,
            latency_ms: LatencyMs::of(&hist),
            hist: encode_histogram(&hist, &mut serializer, &mut scratch),
            ..LoadInterval::default()
        }));
        drift = DRIFT_PHI * drift + innovation * rng.normal();
    }
    records.push(LoadRecord::End {
        t: duration_s as f64,
        in_flight: 0,
    });
    let mut text = Vec::new();
    for record in &records {
        serde_json::to_writer(&mut text, record).expect("a load record serialises");
        text.push(b'\n');
    }
    read_load_records(Cursor::new(text), Path::new("load.jsonl")).expect("the log reads back")
}
