//! Differential: the pure-Rust WebRTC VAD port (`fvad::Fvad`, what ships)
//! against libfvad's C code (the `webrtc-vad` crate) on any sequence of
//! frames, frame lengths and resets: every decision must be the same.
//!
//! Frames are raw fuzzer samples or cheap-to-describe long signals
//! (extremes, tones, steps) so that the models' adaptation is explored too.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::fvad::Fvad;
use webrtc_vad::{SampleRate, Vad, VadMode};

#[derive(Arbitrary, Debug)]
enum Frame {
    Raw(Vec<i16>),
    /// `a * sin(i * step) + b`, saturated to int16.
    Tone {
        a: f32,
        step: f32,
        b: i16,
    },
    /// The same value everywhere.
    Constant(i16),
    /// Alternates `hi` and `lo` every `period + 1` samples.
    Square {
        hi: i16,
        lo: i16,
        period: u8,
    },
    /// `count` frames of a speech-like signal: harmonics of `f0_hz` under a
    /// syllable-rate envelope, plus noise of amplitude `noise` from a PRNG
    /// seeded with `seed` (long runs let the models adapt).
    Speechy {
        count: u8,
        f0_hz: u16,
        amp: u16,
        noise: u16,
        seed: u32,
    },
    Reset,
}

/// A small deterministic PRNG (LCG), enough for test noise.
struct Lcg(u32);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    }
}

fn speechy(
    n: usize,
    rate: i32,
    start: usize,
    f0_hz: u16,
    amp: u16,
    noise: u16,
    rng: &mut Lcg,
) -> Vec<i16> {
    let f0 = 60.0 + (f0_hz % 400) as f32;
    (0..n)
        .map(|j| {
            let t = (start + j) as f32 / rate as f32;
            let envelope = (t * 2.0 * std::f32::consts::PI * 4.0).sin().max(0.0);
            let mut v = 0.0;
            for h in 1..=8 {
                v += (t * 2.0 * std::f32::consts::PI * f0 * h as f32).sin() / h as f32;
            }
            (amp as f32 * envelope * v * 0.5 + noise as f32 * rng.next()) as i16
        })
        .collect()
}

#[derive(Arbitrary, Debug)]
struct Case {
    mode: u8,
    rate: u8,
    /// Per frame: which of the 10/20/30 ms lengths, and the content.
    frames: Vec<(u8, Frame)>,
}

fn c_vad(mode: i32, rate: i32) -> Vad {
    let rate = match rate {
        8_000 => SampleRate::Rate8kHz,
        16_000 => SampleRate::Rate16kHz,
        32_000 => SampleRate::Rate32kHz,
        _ => SampleRate::Rate48kHz,
    };
    let mode = match mode {
        0 => VadMode::Quality,
        1 => VadMode::LowBitrate,
        2 => VadMode::Aggressive,
        _ => VadMode::VeryAggressive,
    };
    Vad::new_with_rate_and_mode(rate, mode)
}

fuzz_target!(|case: Case| {
    let mode = (case.mode % 4) as i32;
    let rate = [8_000, 16_000, 32_000, 48_000][case.rate as usize % 4];
    let mut port = Fvad::new(mode, rate).expect("valid parameters");
    let mut c = c_vad(mode, rate);
    let lengths = port.frame_lengths();
    let mut i = 0usize;
    let mut decide = |samples: &[i16], port: &mut Fvad, c: &mut Vad| {
        let a = port.process(samples).expect("valid frame");
        let b = c.is_voice_segment(samples).expect("valid frame");
        assert_eq!(
            a,
            b,
            "frame {i} (length {}), mode {mode}, {rate} Hz",
            samples.len()
        );
        i += 1;
    };
    for (which, frame) in case.frames.iter().take(400) {
        let n = lengths[*which as usize % 3];
        let samples: Vec<i16> = match frame {
            Frame::Speechy {
                count,
                f0_hz,
                amp,
                noise,
                seed,
            } => {
                let mut rng = Lcg(*seed);
                for k in 0..*count as usize {
                    let x = speechy(n, rate, k * n, *f0_hz, *amp, *noise, &mut rng);
                    decide(&x, &mut port, &mut c);
                }
                continue;
            }
            Frame::Reset => {
                port.reset();
                c = c_vad(mode, rate);
                continue;
            }
            Frame::Raw(v) if v.is_empty() => vec![0; n],
            Frame::Raw(v) => (0..n).map(|j| v[j % v.len()]).collect(),
            Frame::Tone { a, step, b } => (0..n)
                .map(|j| (a * (j as f32 * step).sin() + *b as f32) as i16)
                .collect(),
            Frame::Constant(v) => vec![*v; n],
            Frame::Square { hi, lo, period } => (0..n)
                .map(|j| {
                    if (j / (*period as usize + 1)).is_multiple_of(2) {
                        *hi
                    } else {
                        *lo
                    }
                })
                .collect(),
        };
        decide(&samples, &mut port, &mut c);
    }
});
