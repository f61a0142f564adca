//! The speech-segment state machine on any parameters, decisions, energies
//! (NaN included) and chunkings: no panic; bad parameters are `Invalid`
//! errors; pushing in any chunks gives the segments of one push; segments
//! are ordered, non-empty, non-overlapping and start at or after what
//! `earliest_pending_start` promised when they were still pending; after
//! `finish`, ends are clipped to the total and a push is refused.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::segments::{Segment, SegmentParams, SegmentTracker};
use remotemedia_kernels::KernelError;

#[derive(Arbitrary, Debug)]
enum Num {
    /// A usual value (ms or s).
    Usual(u16),
    Raw(f64),
}

impl Num {
    fn get(&self, scale: f64) -> f64 {
        match self {
            Num::Usual(v) => *v as f64 * scale,
            Num::Raw(v) => *v,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Case {
    frame_length: u32,
    sample_rate: u32,
    small_frame: bool,
    min_speech: Num,
    min_silence: Num,
    pre_roll: Num,
    post_roll: Num,
    max_segment: Num,
    /// Run lengths of alternating speech and silence.
    runs: Vec<u8>,
    energy: Option<Vec<f64>>,
    chunks: Vec<u8>,
    total: Option<i32>,
}

fn run(
    t: &mut SegmentTracker,
    dec: &[u8],
    energy: Option<&[f64]>,
    chunks: &[u8],
    total: Option<i64>,
) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut promised = Vec::new(); // (segments returned so far, earliest_pending_start then)
    let mut pos = 0;
    let mut k = 0;
    while pos < dec.len() {
        let c = if chunks.is_empty() {
            dec.len()
        } else {
            (chunks[k % chunks.len()] as usize).max(usize::from(k >= chunks.len()))
        };
        let c = c.min(dec.len() - pos);
        k += 1;
        t.push(
            &dec[pos..pos + c],
            energy.map(|e| &e[pos..pos + c]),
            &mut out,
        )
        .unwrap();
        promised.push((out.len(), t.earliest_pending_start()));
        pos += c;
    }
    t.finish(total, &mut out);
    for (n, eps) in promised {
        for s in &out[n..] {
            assert!(
                s.start >= eps,
                "segment {s:?} starts before the promised {eps}"
            );
        }
    }
    out
}

fuzz_target!(|case: Case| {
    let (fl, sr) = if case.small_frame {
        (
            1 + case.frame_length as usize % 2000,
            1 + case.sample_rate as usize % 96_000,
        )
    } else {
        (case.frame_length as usize, case.sample_rate as usize)
    };
    let params = SegmentParams {
        min_speech_ms: case.min_speech.get(1.0),
        min_silence_ms: case.min_silence.get(1.0),
        pre_roll_ms: case.pre_roll.get(1.0),
        post_roll_ms: case.post_roll.get(1.0),
        max_segment_s: case.max_segment.get(0.01),
    };
    let mut t = match SegmentTracker::new(fl, sr, &params) {
        Ok(t) => t,
        Err(KernelError::Invalid { .. }) => return,
        Err(e) => panic!("{e:?}"),
    };
    let mut dec = Vec::new();
    for (i, &r) in case.runs.iter().enumerate() {
        dec.extend(std::iter::repeat_n((i % 2) as u8, r as usize));
    }
    let energy: Option<Vec<f64>> = case.energy.as_ref().map(|e| {
        (0..dec.len())
            .map(|i| if e.is_empty() { 0.0 } else { e[i % e.len()] })
            .collect()
    });
    let total = case.total.map(|v| v as i64);
    let whole = run(&mut t, &dec, energy.as_deref(), &[], total);
    let mut fresh = SegmentTracker::new(fl, sr, &params).unwrap();
    let streamed = run(&mut fresh, &dec, energy.as_deref(), &case.chunks, total);
    assert_eq!(streamed, whole);
    // Reset == fresh.
    t.reset();
    assert_eq!(
        run(&mut t, &dec, energy.as_deref(), &case.chunks, total),
        whole
    );
    // Ordered, non-empty, non-overlapping, within the signal.
    let seen = dec.len() as i64 * fl as i64;
    let limit = total.unwrap_or(seen);
    for s in &whole {
        assert!(0 <= s.start && s.start < s.end, "{s:?}");
        if limit >= seen {
            // Ends released by a push are within what was pushed; finish clips to the total.
            assert!(s.end <= limit, "{s:?} ends after {limit}");
        }
        assert_eq!(s.start_s, s.start as f64 / sr as f64);
        assert_eq!(s.end_s, s.end as f64 / sr as f64);
    }
    for w in whole.windows(2) {
        assert!(w[0].end <= w[1].start, "{w:?}");
    }
    // Finished: nothing more, a push is refused.
    let mut more = Vec::new();
    t.finish(None, &mut more);
    assert!(more.is_empty());
    assert!(matches!(
        t.push(&[1], None, &mut more),
        Err(KernelError::Invalid { .. })
    ));
});
