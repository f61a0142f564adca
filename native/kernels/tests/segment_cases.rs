//! The Rust segment tracker replays fixed cases recorded from the Python
//! `SegmentTracker` (`tests/data/segment_cases.json`, written by
//! `tests/data/make_segment_cases.py`): same segments from every push (sample
//! positions and the bits of the seconds), same `earliest_pending_start`
//! after every push, same segments from `finish`.

use remotemedia_kernels::segments::{Segment, SegmentParams, SegmentTracker};
use serde::Deserialize;

#[derive(Deserialize)]
struct Params {
    min_speech_ms: f64,
    min_silence_ms: f64,
    pre_roll_ms: f64,
    post_roll_ms: f64,
    max_segment_s: f64,
}

#[derive(Deserialize)]
struct Push {
    segments: Vec<(i64, i64, u64, u64)>,
    earliest: i64,
}

#[derive(Deserialize)]
struct Case {
    frame_length: usize,
    sample_rate: usize,
    params: Params,
    decisions: String,
    energy: Option<String>,
    chunks: Vec<usize>,
    total_samples: Option<i64>,
    pushes: Vec<Push>,
    finish: Vec<(i64, i64, u64, u64)>,
}

fn as_tuples(segments: &[Segment]) -> Vec<(i64, i64, u64, u64)> {
    segments
        .iter()
        .map(|s| (s.start, s.end, s.start_s.to_bits(), s.end_s.to_bits()))
        .collect()
}

#[test]
fn rust_tracker_replays_the_python_cases() {
    let text = include_str!("data/segment_cases.json");
    let cases: Vec<Case> = serde_json::from_str(text).unwrap();
    assert!(cases.len() >= 50);
    let mut segments_seen = 0;
    for (k, case) in cases.iter().enumerate() {
        let p = &case.params;
        let params = SegmentParams {
            min_speech_ms: p.min_speech_ms,
            min_silence_ms: p.min_silence_ms,
            pre_roll_ms: p.pre_roll_ms,
            post_roll_ms: p.post_roll_ms,
            max_segment_s: p.max_segment_s,
        };
        let mut t = SegmentTracker::new(case.frame_length, case.sample_rate, &params).unwrap();
        let dec: Vec<u8> = case.decisions.bytes().map(|b| b - b'0').collect();
        let energy: Option<Vec<f64>> = case
            .energy
            .as_ref()
            .map(|e| e.bytes().map(|b| (b - b'0') as f64).collect());
        let mut pos = 0;
        assert_eq!(case.chunks.len(), case.pushes.len());
        for (i, (&c, want)) in case.chunks.iter().zip(&case.pushes).enumerate() {
            let mut out = Vec::new();
            let e = energy.as_ref().map(|e| &e[pos..pos + c]);
            t.push(&dec[pos..pos + c], e, &mut out).unwrap();
            assert_eq!(as_tuples(&out), want.segments, "case {k}, push {i}");
            assert_eq!(
                t.earliest_pending_start(),
                want.earliest,
                "case {k}, push {i}"
            );
            segments_seen += out.len();
            pos += c;
        }
        let mut out = Vec::new();
        t.finish(case.total_samples, &mut out);
        assert_eq!(as_tuples(&out), case.finish, "case {k}, finish");
        segments_seen += out.len();
    }
    assert!(segments_seen > 300, "{segments_seen}");
}
