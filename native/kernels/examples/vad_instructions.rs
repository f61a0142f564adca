//! Runs the WebRTC VAD over a synthetic signal, with the pure-Rust port or
//! libfvad's C (the `webrtc-vad` crate), for instruction counts under
//! callgrind:
//!
//!     cargo build --release --example vad_instructions -p remotemedia-kernels
//!     valgrind --tool=callgrind target/release/examples/vad_instructions port 16000 30 2000
//!
//! Arguments: `port` or `c`, sample rate (Hz), frame length (ms), frames.
//! Run with two frame counts and divide the difference to get per-frame cost.

use remotemedia_kernels::fvad::Fvad;
use webrtc_vad::{SampleRate, Vad, VadMode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("port");
    let rate: i32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16000);
    let ms: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
    let frames: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let fl = ms * rate as usize / 1000;

    // The Python benchmark's signal: a 220 Hz tone gated at 0.7 Hz, plus noise.
    let mut seed = 0x1234_5678_u64;
    // A fixed 400 frames of signal, cycled, so that only the VAD scales with
    // the frame count.
    let x: Vec<i16> = (0..fl * 400)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let t = i as f64 / rate as f64;
            let gate = ((2.0 * std::f64::consts::PI * 0.7 * t).sin() > 0.0) as i32 as f64;
            let noise = ((seed >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 700.0;
            (8000.0 * gate * (2.0 * std::f64::consts::PI * 220.0 * t).sin() + noise).round() as i16
        })
        .collect();

    let mut speech = 0usize;
    match which {
        "c" => {
            let r = match rate {
                8000 => SampleRate::Rate8kHz,
                16000 => SampleRate::Rate16kHz,
                32000 => SampleRate::Rate32kHz,
                _ => SampleRate::Rate48kHz,
            };
            let mut v = Vad::new_with_rate_and_mode(r, VadMode::VeryAggressive);
            for f in x.chunks_exact(fl).cycle().take(frames) {
                speech += v.is_voice_segment(f).unwrap() as usize;
            }
        }
        _ => {
            let mut v = Fvad::new(3, rate).unwrap();
            for f in x.chunks_exact(fl).cycle().take(frames) {
                speech += v.process(f).unwrap() as usize;
            }
        }
    }
    println!("{which} {rate} Hz {ms} ms: {speech} of {frames} frames speech");
}
