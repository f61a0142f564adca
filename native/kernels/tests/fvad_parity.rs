//! Differential tests: the pure-Rust WebRTC VAD (`remotemedia_kernels::fvad`)
//! against libfvad's C code (the `webrtc-vad` crate), decision by decision,
//! over every mode, sample rate and frame length, on signals that exercise
//! the fixed-point edge cases (silence, noise, int16 extremes, full-scale
//! sweeps, speech-like bursts), with state carried across calls, frame
//! lengths changing within a stream, and resets.

use remotemedia_kernels::fvad::Fvad;
use webrtc_vad::{SampleRate, Vad, VadMode};

const RATES: [i32; 4] = [8000, 16000, 32000, 48000];

/// Frames per configuration: smaller in debug builds (overflow checks on),
/// which still proves that no arithmetic panics.
fn scale(n: usize) -> usize {
    if cfg!(debug_assertions) {
        n / 4
    } else {
        n
    }
}

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn i16(&mut self) -> i16 {
        self.next() as i16
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// Roughly normal (sum of four uniforms), unit variance.
    fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit()) * (3.0f64.sqrt() / 2.0)
    }
}

fn sat(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

fn c_vad(mode: i32, rate: i32) -> Vad {
    let rate = match rate {
        8000 => SampleRate::Rate8kHz,
        16000 => SampleRate::Rate16kHz,
        32000 => SampleRate::Rate32kHz,
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

/// The kinds of test signal; `segment` writes `n` samples of one kind.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Silence,
    Dc,
    TinyNoise,
    Noise,
    FullScaleNoise,
    Square,
    MinOnly,
    Alternating,
    Sweep,
    Speechlike,
    Impulses,
}

const KINDS: [Kind; 11] = [
    Kind::Silence,
    Kind::Dc,
    Kind::TinyNoise,
    Kind::Noise,
    Kind::FullScaleNoise,
    Kind::Square,
    Kind::MinOnly,
    Kind::Alternating,
    Kind::Sweep,
    Kind::Speechlike,
    Kind::Impulses,
];

fn segment(kind: Kind, n: usize, rate: i32, rng: &mut Rng, out: &mut Vec<i16>) {
    let fs = rate as f64;
    match kind {
        Kind::Silence => out.extend(std::iter::repeat_n(0, n)),
        Kind::Dc => {
            let v = [32767, -32768, 1, -1, 1000, -20000][rng.below(6) as usize];
            out.extend(std::iter::repeat_n(v, n));
        }
        Kind::TinyNoise => {
            let a = 1 + rng.below(4) as i64;
            out.extend((0..n).map(|_| (rng.below(2 * a as u64 + 1) as i64 - a) as i16));
        }
        Kind::Noise => {
            let sd = [30.0, 300.0, 3000.0, 12000.0][rng.below(4) as usize];
            out.extend((0..n).map(|_| sat(sd * rng.normal())));
        }
        Kind::FullScaleNoise => out.extend((0..n).map(|_| rng.i16())),
        Kind::Square => {
            // +-32767 or 32767/-32768 at a random period (2..=400 samples).
            let half = 1 + rng.below(200) as usize;
            let lo = if rng.below(2) == 0 { -32767 } else { -32768 };
            out.extend((0..n).map(|i| {
                if (i / half).is_multiple_of(2) {
                    32767
                } else {
                    lo
                }
            }));
        }
        Kind::MinOnly => out.extend(std::iter::repeat_n(-32768, n)),
        Kind::Alternating => {
            out.extend((0..n).map(|i| if i.is_multiple_of(2) { -32768 } else { 32767 }))
        }
        Kind::Sweep => {
            // Full-scale (sometimes clipped) sine sweep over the whole band.
            let (f0, f1) = (20.0, fs / 2.0);
            let amp = [32767.0, 40000.0, 90000.0][rng.below(3) as usize];
            let dur = n as f64 / fs;
            let mut phase = 0.0f64;
            out.extend((0..n).map(|i| {
                let t = i as f64 / fs;
                let f = f0 * (f1 / f0).powf(t / dur);
                phase += 2.0 * std::f64::consts::PI * f / fs;
                sat(amp * phase.sin())
            }));
        }
        Kind::Speechlike => {
            // Voiced syllables: a few harmonics of a gliding pitch under a
            // syllable-rate envelope, with noise bursts (fricatives) and pauses.
            let f0 = 90.0 + 200.0 * (rng.unit() + 1.0) / 2.0;
            let amp = [500.0, 4000.0, 16000.0, 30000.0][rng.below(4) as usize];
            let syll = 3.0 + 4.0 * (rng.unit() + 1.0) / 2.0;
            let mut phase = 0.0f64;
            let mut burst = 0usize;
            out.extend((0..n).map(|i| {
                let t = i as f64 / fs;
                let env = (2.0 * std::f64::consts::PI * syll * t)
                    .sin()
                    .max(0.0)
                    .powi(2);
                let pitch = f0 * (1.0 + 0.1 * (2.0 * std::f64::consts::PI * 2.0 * t).sin());
                phase += 2.0 * std::f64::consts::PI * pitch / fs;
                let mut v = 0.0;
                for h in 1..=8 {
                    if pitch * h as f64 * 2.0 < fs {
                        v += (h as f64 * phase).sin() / h as f64;
                    }
                }
                if burst == 0 && rng.below(rate as u64 / 2) == 0 {
                    burst = rate as usize / 20;
                }
                let mut noise = 0.0;
                if burst > 0 {
                    burst -= 1;
                    noise = 0.3 * rng.normal();
                }
                sat(amp * (env * v * 0.5 + noise) + 20.0 * rng.normal())
            }));
        }
        Kind::Impulses => {
            out.extend((0..n).map(|_| match rng.below(50) {
                0 => 32767,
                1 => -32768,
                _ => 0,
            }));
        }
    }
}

/// A signal of `n` samples made of random segments of every kind.
fn mixed_signal(n: usize, rate: i32, rng: &mut Rng) -> Vec<i16> {
    let mut x = Vec::with_capacity(n + rate as usize);
    while x.len() < n {
        let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
        let len = (rate as u64 / 100 * (1 + rng.below(150))) as usize;
        segment(kind, len, rate, rng, &mut x);
    }
    x.truncate(n);
    x
}

/// Runs port and C over `x` in frames whose length `pick` chooses; resets
/// both (the C one with its mode and rate set again) where `reset_every`
/// says. Panics with the configuration on the first difference; returns the
/// number of decisions compared and how many were speech.
fn compare(
    mode: i32,
    rate: i32,
    x: &[i16],
    mut pick: impl FnMut() -> usize,
    reset_every: Option<usize>,
    what: &str,
) -> (usize, usize) {
    let mut port = Fvad::new(mode, rate).unwrap();
    let mut c = c_vad(mode, rate);
    let mut pos = 0;
    let mut frames = 0usize;
    let mut speech = 0;
    loop {
        let n = pick();
        if pos + n > x.len() {
            break;
        }
        if reset_every.is_some_and(|r| frames > 0 && frames.is_multiple_of(r)) {
            port.reset();
            c = c_vad(mode, rate);
        }
        let frame = &x[pos..pos + n];
        let a = port.process(frame).unwrap();
        let b = c.is_voice_segment(frame).unwrap();
        assert_eq!(
            a, b,
            "{what}: mode {mode}, {rate} Hz, frame {frames} (length {n}, samples {pos}..)"
        );
        speech += a as usize;
        frames += 1;
        pos += n;
    }
    (frames, speech)
}

#[test]
fn every_mode_rate_and_frame_length_on_mixed_signals() {
    let mut total = 0;
    let mut speech = 0;
    for rate in RATES {
        for mode in 0..4 {
            for ms in [10usize, 20, 30] {
                let mut rng = Rng(0x5EED ^ (rate as u64) << 8 ^ (mode as u64) << 4 ^ ms as u64);
                let fl = ms * rate as usize / 1000;
                let x = mixed_signal(fl * scale(4000), rate, &mut rng);
                let (f, s) = compare(mode, rate, &x, || fl, None, "mixed");
                total += f;
                speech += s;
            }
        }
    }
    eprintln!("mixed: {total} decisions equal ({speech} speech)");
    assert!(
        speech > total / 20 && speech < total * 19 / 20,
        "{speech} of {total}"
    );
}

#[test]
fn each_signal_kind_alone_with_state_carried() {
    let mut total = 0;
    for rate in RATES {
        for mode in 0..4 {
            for (i, kind) in KINDS.iter().enumerate() {
                let mut rng = Rng(0xC0FFEE + i as u64 * 7919 + rate as u64 + mode as u64);
                let fl = 30 * rate as usize / 1000;
                let mut x = Vec::new();
                segment(*kind, fl * scale(600), rate, &mut rng, &mut x);
                let (f, _) = compare(mode, rate, &x, || fl, None, &format!("{kind:?}"));
                total += f;
            }
        }
    }
    eprintln!("single kinds: {total} decisions equal");
}

#[test]
fn frame_length_changing_within_a_stream_and_resets() {
    let mut total = 0;
    for rate in RATES {
        for mode in 0..4 {
            let mut rng = Rng(0xABCD + rate as u64 * 4 + mode as u64);
            let x = mixed_signal(rate as usize * scale(60), rate, &mut rng);
            let mut pick_rng = Rng(rate as u64 + 17 * mode as u64);
            let lengths = [10, 20, 30].map(|ms| ms * rate as usize / 1000);
            let (f, _) = compare(
                mode,
                rate,
                &x,
                || lengths[pick_rng.below(3) as usize],
                Some(777),
                "changing lengths",
            );
            total += f;
        }
    }
    eprintln!("changing lengths with resets: {total} decisions equal");
}

#[test]
fn long_run_state_survives_many_minutes() {
    // Minutes of audio through one state (the minimum tracker's ages and the
    // model adaptation run far past their start-up).
    let mut total = 0;
    for (rate, mode) in [(16000, 3), (8000, 0), (48000, 2), (32000, 1)] {
        let mut rng = Rng(0x10_0000 + rate as u64 + mode as u64);
        let x = mixed_signal(rate as usize * scale(600), rate, &mut rng);
        let fl = 10 * rate as usize / 1000;
        let (f, _) = compare(mode, rate, &x, || fl, None, "long run");
        total += f;
    }
    eprintln!("long runs: {total} decisions equal");
}

#[test]
fn rejects_bad_parameters_and_lengths_without_state_change() {
    assert!(Fvad::new(4, 16000).is_err());
    assert!(Fvad::new(-1, 16000).is_err());
    assert!(Fvad::new(0, 44100).is_err());
    let mut v = Fvad::new(0, 16000).unwrap();
    for n in [0, 1, 159, 161, 479, 481, 960] {
        assert!(v.process(&vec![0; n]).is_err(), "length {n}");
    }
    let mut fresh = Fvad::new(0, 16000).unwrap();
    let mut rng = Rng(3);
    let x = mixed_signal(16000 * 10, 16000, &mut rng);
    for f in x.chunks_exact(320) {
        assert_eq!(v.process(f).unwrap(), fresh.process(f).unwrap());
    }
}
