use super::*;
use crate::test_util::Lcg;

fn tracker(fl: usize, sr: usize, p: SegmentParams) -> SegmentTracker {
    SegmentTracker::new(fl, sr, &p).unwrap()
}

fn run(t: &mut SegmentTracker, dec: &[u8], energy: Option<&[f64]>) -> Vec<Segment> {
    let mut out = Vec::new();
    t.push(dec, energy, &mut out).unwrap();
    t.finish(None, &mut out);
    out
}

fn runs(parts: &[(u8, usize)]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
        .collect()
}

#[test]
fn parameters_are_derived_as_in_python() {
    // 30 ms frames: 250 ms -> ceil(8.33) = 9 frames, 300 ms -> 10, rolls 1600 samples, 30 s -> 1000.
    let t = tracker(480, 16_000, SegmentParams::default());
    assert_eq!(t.min_speech_frames(), 9);
    assert_eq!(t.min_silence_frames(), 10);
    assert_eq!((t.pre_roll(), t.post_roll()), (1600, 1600));
    assert_eq!(t.max_frames(), 1000);
    // 0 ms of silence still needs one frame; 300 ms at 10 ms frames is exactly 30 (the 1e-9).
    let p = SegmentParams {
        min_silence_ms: 0.0,
        ..Default::default()
    };
    assert_eq!(tracker(160, 16_000, p).min_silence_frames(), 1);
    assert_eq!(
        tracker(160, 16_000, SegmentParams::default()).min_silence_frames(),
        30
    );
    // Rolls round half to even: 0.5 ms at 1 kHz is 0.5 samples -> 0; 1.5 -> 2.
    let p = SegmentParams {
        pre_roll_ms: 0.5,
        post_roll_ms: 1.5,
        ..Default::default()
    };
    let t = tracker(7, 1000, p);
    assert_eq!((t.pre_roll(), t.post_roll()), (0, 2));
}

#[test]
fn bad_parameters_are_invalid_errors_naming_them() {
    let bad = |p: SegmentParams, fl: usize, sr: usize| match SegmentTracker::new(fl, sr, &p) {
        Err(e @ (KernelError::Invalid { .. } | KernelError::Spec(_))) => e.message(),
        other => panic!("expected an Invalid error, got {other:?}"),
    };
    let d = SegmentParams::default();
    assert!(bad(d, 0, 16_000).starts_with("frame_length:"));
    assert!(bad(d, 480, 0).starts_with("sample_rate:"));
    for (p, name) in [
        (
            SegmentParams {
                min_speech_ms: -1.0,
                ..d
            },
            "min_speech_ms:",
        ),
        (
            SegmentParams {
                min_silence_ms: f64::NAN,
                ..d
            },
            "min_silence_ms:",
        ),
        (
            SegmentParams {
                pre_roll_ms: f64::INFINITY,
                ..d
            },
            "pre_roll_ms:",
        ),
        (
            SegmentParams {
                post_roll_ms: -0.5,
                ..d
            },
            "post_roll_ms:",
        ),
        (
            SegmentParams {
                max_segment_s: 0.015,
                ..d
            },
            "max_segment_s: expected at least two frames",
        ),
        // Python's round() raises OverflowError here (1e305 * 48000 is inf).
        (
            SegmentParams {
                post_roll_ms: 1e305,
                ..d
            },
            "post_roll_ms:",
        ),
    ] {
        let m = bad(p, 480, 48_000);
        assert!(m.starts_with(name), "{m}");
    }
    // Huge but finite: capped, not an error.
    let p = SegmentParams {
        min_speech_ms: 1e300,
        pre_roll_ms: 1e290,
        ..d
    };
    assert!(SegmentTracker::new(480, 16_000, &p).is_ok());
}

#[test]
fn one_utterance_gets_its_rolls_and_is_released_once_its_post_roll_is_seen() {
    let mut t = tracker(480, 16_000, SegmentParams::default());
    let dec = runs(&[(0, 20), (1, 30), (0, 20)]);
    let mut out = Vec::new();
    t.push(&dec, None, &mut out).unwrap();
    let want = Segment {
        start: 20 * 480 - 1600,
        end: 50 * 480 + 1600,
        start_s: 0.5,
        end_s: 1.6,
    };
    assert_eq!(out, vec![want]);
    out.clear();
    t.finish(None, &mut out);
    assert!(out.is_empty());
    // Pushing after finish is refused; a second finish gives nothing.
    let e = t.push(&[1], None, &mut out).unwrap_err();
    assert!(e
        .message()
        .starts_with("push: expected a tracker that has not finished"));
    t.finish(None, &mut out);
    assert!(out.is_empty());
}

#[test]
fn short_speech_is_dropped_and_short_pauses_stay_inside() {
    let mut t = tracker(480, 16_000, SegmentParams::default());
    // 5 frames (150 ms) < 9 frames: dropped.
    assert!(run(&mut t, &runs(&[(0, 5), (1, 5), (0, 40)]), None).is_empty());
    // 9 frames of speech, a 9-frame pause (< 10), 9 more: one segment.
    let mut t = tracker(480, 16_000, SegmentParams::default());
    let out = run(
        &mut t,
        &runs(&[(0, 10), (1, 9), (0, 9), (1, 9), (0, 40)]),
        None,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].start, out[0].end),
        (10 * 480 - 1600, 37 * 480 + 1600)
    );
    // A 10-frame pause splits; the second segment's pre-roll (300 ms here) stops at the first's end.
    let p = SegmentParams {
        pre_roll_ms: 300.0,
        ..Default::default()
    };
    let mut t = tracker(480, 16_000, p);
    let out = run(
        &mut t,
        &runs(&[(0, 10), (1, 9), (0, 10), (1, 9), (0, 40)]),
        None,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].end, 19 * 480 + 1600);
    assert_eq!(out[1].start, out[0].end);
    assert_eq!(out[1].end, 38 * 480 + 1600);
}

#[test]
fn long_speech_is_cut_before_the_quietest_frame_the_latest_of_equals() {
    // 10 ms frames at 1 kHz (10 samples), max 10 frames: cut between frames 5 and 10 of a piece.
    let p = SegmentParams {
        min_speech_ms: 0.0,
        min_silence_ms: 10.0,
        pre_roll_ms: 0.0,
        post_roll_ms: 0.0,
        max_segment_s: 0.1,
    };
    let dec = vec![1u8; 25];
    let mut energy = vec![5.0; 25];
    energy[7] = 1.0; // quietest of frames 5..=10
    energy[8] = 1.0; // equal: the later one wins
    let mut t = tracker(10, 1000, p);
    let out = run(&mut t, &dec, Some(&energy));
    let bounds: Vec<(i64, i64)> = out.iter().map(|s| (s.start, s.end)).collect();
    // First piece 0..8; the next starts at 8, its window is 13..=18 (all 5.0): the latest, 18.
    assert_eq!(bounds, vec![(0, 80), (80, 180), (180, 250)]);
    // Without energies the cut is at exactly max_frames (every energy is 0.0: the latest).
    let mut t = tracker(10, 1000, p);
    let out = run(&mut t, &dec, None);
    let bounds: Vec<(i64, i64)> = out.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(bounds, vec![(0, 100), (100, 200), (200, 250)]);
}

#[test]
fn nan_energies_behave_as_in_pythons_max() {
    assert_eq!(SegmentTracker::quietest(&[3.0, f64::NAN, 1.0, 2.0]), 2);
    // A NaN best is never replaced.
    assert_eq!(SegmentTracker::quietest(&[f64::NAN, 0.0, -1.0]), 0);
    assert_eq!(SegmentTracker::quietest(&[1.0, 0.0, f64::NAN, 0.0]), 3);
    assert_eq!(SegmentTracker::quietest(&[0.0, -0.0]), 1);
}

#[test]
fn earliest_pending_start_tracks_what_may_still_be_in_a_segment() {
    // A post-roll (500 ms) longer than the pause that closes a segment (300 ms).
    let p = SegmentParams {
        post_roll_ms: 500.0,
        ..Default::default()
    };
    let mut t = tracker(480, 16_000, p);
    let mut out = Vec::new();
    assert_eq!(t.earliest_pending_start(), 0);
    t.push(&[0; 10], None, &mut out).unwrap();
    assert_eq!(t.earliest_pending_start(), 10 * 480 - 1600);
    t.push(&[1; 10], None, &mut out).unwrap();
    assert_eq!(t.earliest_pending_start(), 10 * 480 - 1600);
    t.push(&[0; 12], None, &mut out).unwrap(); // closed, held until its post-roll is seen
    assert!(out.is_empty());
    assert_eq!(t.earliest_pending_start(), 10 * 480 - 1600);
    t.push(&[0; 10], None, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(t.earliest_pending_start(), out[0].end.max(42 * 480 - 1600));
}

#[test]
fn finish_clips_to_the_true_length() {
    let mut t = tracker(480, 16_000, SegmentParams::default());
    let mut out = Vec::new();
    t.push(&runs(&[(0, 5), (1, 20)]), None, &mut out).unwrap();
    t.finish(Some(24 * 480 + 100), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].start, out[0].end), (5 * 480 - 1600, 24 * 480 + 100));
    // Reset: a fresh tracker again.
    t.reset();
    let mut again = Vec::new();
    t.push(&runs(&[(0, 5), (1, 20)]), None, &mut again).unwrap();
    t.finish(Some(24 * 480 + 100), &mut again);
    assert_eq!(again, out);
}

#[test]
fn any_chunking_gives_the_segments_of_one_push() {
    let mut rng = Lcg(7);
    for case in 0..200 {
        let n = (rng.next() % 600) as usize;
        let mut dec = Vec::with_capacity(n);
        let mut speech = rng.next().is_multiple_of(2);
        while dec.len() < n {
            let run = 1 + (rng.next() % 40) as usize;
            dec.extend(std::iter::repeat_n(speech as u8, run.min(n - dec.len())));
            speech = !speech;
        }
        let energy: Vec<f64> = (0..n).map(|_| (rng.next() % 6) as f64).collect();
        let p = SegmentParams {
            min_speech_ms: (rng.next() % 200) as f64,
            min_silence_ms: (rng.next() % 200) as f64,
            pre_roll_ms: (rng.next() % 150) as f64,
            post_roll_ms: (rng.next() % 150) as f64,
            max_segment_s: [0.0, 0.1, 0.35, 1.0][(rng.next() % 4) as usize],
        };
        let whole = run(&mut tracker(160, 16_000, p), &dec, Some(&energy));
        let mut t = tracker(160, 16_000, p);
        let mut streamed = Vec::new();
        let mut pos = 0;
        while pos < n {
            let c = ((rng.next() % 30) as usize).min(n - pos);
            t.push(
                &dec[pos..pos + c],
                Some(&energy[pos..pos + c]),
                &mut streamed,
            )
            .unwrap();
            pos += c;
        }
        t.finish(None, &mut streamed);
        assert_eq!(streamed, whole, "case {case}");
        // Ordered and non-overlapping.
        for w in whole.windows(2) {
            assert!(w[0].end <= w[1].start, "case {case}: {w:?}");
        }
    }
}

#[test]
fn energies_the_tracker_never_keeps_do_not_change_the_segments() {
    // needs_energy() false -> any value gives the same segments (here NaN instead of the energy).
    let mut rng = Lcg(11);
    for case in 0..100 {
        let n = 300 + (rng.next() % 300) as usize;
        let dec: Vec<u8> = (0..n)
            .map(|i| ((i / (1 + case % 17)) % 3 != 0) as u8)
            .collect();
        let energy: Vec<f64> = (0..n).map(|_| (rng.next() % 5) as f64).collect();
        let p = SegmentParams {
            min_speech_ms: 30.0,
            min_silence_ms: 20.0,
            pre_roll_ms: 10.0,
            post_roll_ms: 10.0,
            max_segment_s: [0.0, 0.05, 0.2][case % 3],
        };
        let want = run(&mut tracker(10, 1000, p), &dec, Some(&energy));
        let mut t = tracker(10, 1000, p);
        let mut got = Vec::new();
        let mut skipped = 0;
        for (&d, &e) in dec.iter().zip(&energy) {
            let e = if t.needs_energy(d != 0) {
                e
            } else {
                skipped += 1;
                f64::NAN
            };
            t.push(&[d], Some(&[e]), &mut got).unwrap();
        }
        t.finish(None, &mut got);
        assert_eq!(got, want, "case {case}");
        assert!(skipped > 0, "case {case}");
    }
}
