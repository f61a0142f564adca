//! A fused segment allocates nothing per chunk once warmed up, beyond the
//! amortised growth of what a stream keeps (the VAD's decisions and
//! segments): counted with a counting global allocator over 1500 chunks.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use remotemedia_kernels::fused::{AudioRef, FusedSegment, Layout, Samples};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn chunks_allocate_nothing_once_warm() {
    let spec = r#"{
      "stages": [
        {"id": "mix", "kind": "mono_mix"},
        {"id": "rs", "kind": "resample", "params": {"target_sample_rate": 16000}},
        {"id": "vad", "kind": "webrtc_vad", "params": {"segments": true, "min_speech_ms": 60,
          "min_silence_ms": 60, "post_roll_ms": 30}},
        {"id": "i16", "kind": "convert", "params": {"target_format": "i16"}},
        {"id": "e", "kind": "energy_vad", "params": {"energy_threshold": 0.05}}
      ],
      "edges": [{"from": "mix", "to": "rs"}, {"from": "rs", "to": "vad"}, {"from": "rs", "to": "i16"},
                {"from": "mix", "to": "e"}],
      "input": "mix",
      "outputs": ["vad", "i16", "e"]
    }"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    // 20 ms chunks of interleaved stereo: 0.3 s tone bursts and 0.3 s pauses.
    let chunk_frames = 960;
    let chunks: Vec<Vec<i16>> = (0..50)
        .map(|k| {
            (0..chunk_frames * 2)
                .map(|i| {
                    let f = k * chunk_frames + i / 2;
                    let on = (f / 14_400) % 2 == 0;
                    let v = (f as f32 * 0.05).sin() * if on { 8_000.0 } else { 2.0 };
                    v as i16
                })
                .collect()
        })
        .collect();
    let mut run = |n: usize| {
        let mut segments = 0;
        for k in 0..n {
            let c = &chunks[k % chunks.len()];
            let a = AudioRef::new(Samples::I16(c), 2, Layout::Interleaved, 48_000).unwrap();
            seg.process(a).unwrap();
            if let remotemedia_kernels::fused::StageResult::Vad { new_segments, .. } = seg.output(2)
            {
                segments += new_segments.len();
            }
        }
        segments
    };
    run(100); // warm up: engines built, buffers sized
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let segments = run(1500);
    let during = ALLOCATIONS.load(Ordering::Relaxed) - before;
    eprintln!("{during} allocations over 1500 chunks, {segments} segments");
    assert!(segments >= 10, "{segments}");
    // Only the doubling of what the streams keep (decisions, segments, the
    // tracker's energies of an open piece): a handful, not one per chunk.
    assert!(during <= 40, "{during} allocations over 1500 chunks");
}
