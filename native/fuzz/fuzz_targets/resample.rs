//! The resampler on any rates, block sizes, channel counts, chunkings and
//! sample values: no panic; bad parameters and bad values are `Invalid`
//! errors; otherwise the output has exactly round(frames * out / in) frames,
//! is finite, and is the same, bit for bit, whole or streamed in any chunks,
//! and again after a reset.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::resample::{output_len, values_ok, Resampler};
use remotemedia_kernels::KernelError;

const RATES: [u32; 10] = [
    8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000, 192_000,
];
const WINDOWS: [&str; 7] = [
    "blackman",
    "blackman2",
    "blackman_harris",
    "blackman_harris2",
    "hann",
    "hann2",
    "kaiser",
];
/// Buffers above this many samples are not built here (the bound itself,
/// 2^27, is a unit test): it keeps every run fast and small.
const MAX_FUZZ_BUFFER: usize = 1 << 17;

#[derive(Arbitrary, Debug)]
enum Rate {
    Common(u8),
    Raw(u32),
}

impl Rate {
    fn hz(&self) -> usize {
        match self {
            Rate::Common(i) => RATES[*i as usize % RATES.len()] as usize,
            Rate::Raw(r) => *r as usize,
        }
    }
}

/// Samples: raw values from the fuzzer (NaN, inf, huge, subnormal...), or a
/// long synthetic signal that a short fuzz input can ask for.
#[derive(Arbitrary, Debug)]
enum Signal {
    Raw(Vec<f32>),
    /// `len` values: a tone of `step` radians per value, amplitude `amp`,
    /// plus `raw` repeated over it.
    Synth {
        len: u16,
        step: f32,
        amp: f32,
        raw: Vec<f32>,
    },
}

impl Signal {
    fn values(&self) -> Vec<f32> {
        match self {
            Signal::Raw(v) => v.clone(),
            Signal::Synth {
                len,
                step,
                amp,
                raw,
            } => (0..*len as usize)
                .map(|i| {
                    let extra = if raw.is_empty() {
                        0.0
                    } else {
                        raw[i % raw.len()]
                    };
                    amp * (i as f32 * step).sin() + extra
                })
                .collect(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Case {
    in_rate: Rate,
    out_rate: Rate,
    /// Blocks of 2 * (1 + k % 4) reduced-ratio units, or a raw block length.
    k: u8,
    raw_block: Option<u32>,
    window: u8,
    channels: u8,
    chunks: Vec<u16>,
    samples: Signal,
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn expect_invalid<T: std::fmt::Debug>(r: Result<T, KernelError>) {
    match r {
        Err(KernelError::Invalid { .. }) => {}
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

/// Streams `input` ((channels, frames) flat) in chunks; returns the output
/// ((channels, n) flat).
fn streamed(r: &mut Resampler, input: &[f32], channels: usize, chunks: &[u16]) -> Vec<f32> {
    let frames = input.len() / channels;
    let mut per_channel: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut append = |out: &[f32], n: usize| {
        for (c, dst) in per_channel.iter_mut().enumerate() {
            dst.extend_from_slice(&out[c * n..(c + 1) * n]);
        }
    };
    let mut pos = 0;
    let mut i = 0;
    while pos < frames {
        let size = match chunks.get(i % chunks.len().max(1)) {
            Some(&s) => (s as usize % 4_096).min(frames - pos),
            None => frames - pos,
        };
        i += 1;
        let mut chunk = Vec::with_capacity(size * channels);
        for c in 0..channels {
            chunk.extend_from_slice(&input[c * frames + pos..c * frames + pos + size]);
        }
        let n = r.process_len(size);
        let mut out = vec![f32::NAN; n * channels];
        if n > 0 {
            // A wrong output size is refused and changes nothing.
            expect_invalid(r.process(&chunk, &mut out[..n * channels - 1]));
        }
        assert_eq!(r.process_len(size), n);
        r.process(&chunk, &mut out).expect("valid chunk");
        append(&out, n);
        pos += size;
        if i > 256 {
            // Many chunks (zero-length ones included): finish in one piece.
            let rest = frames - pos;
            let mut chunk = Vec::with_capacity(rest * channels);
            for c in 0..channels {
                chunk.extend_from_slice(&input[c * frames + pos..c * frames + frames]);
            }
            let n = r.process_len(rest);
            let mut out = vec![f32::NAN; n * channels];
            r.process(&chunk, &mut out).expect("valid chunk");
            append(&out, n);
            pos = frames;
        }
    }
    let n = r.flush_len();
    let mut out = vec![f32::NAN; n * channels];
    r.flush(&mut out).expect("flush");
    append(&out, n);
    per_channel.concat()
}

fuzz_target!(|case: Case| {
    let (in_rate, out_rate) = (case.in_rate.hz(), case.out_rate.hz());
    let channels = case.channels as usize % 9;
    let window = WINDOWS[case.window as usize % WINDOWS.len()];
    let g = gcd(in_rate, out_rate).max(1);
    let block_in = match case.raw_block {
        Some(b) => b as usize,
        None => 2 * (1 + case.k as usize % 4) * (in_rate / g),
    };
    let block_out = (block_in / (in_rate / g).max(1)).saturating_mul(out_rate / g);
    if channels.saturating_mul(block_in.max(block_out)) > MAX_FUZZ_BUFFER {
        return;
    }
    let built = Resampler::new(in_rate, out_rate, block_in, window, channels);
    let mut r = match built {
        Ok(r) => r,
        Err(e) => return expect_invalid::<()>(Err(e)),
    };
    let samples = case.samples.values();
    let frames = samples.len() / channels;
    let input = &samples[..frames * channels];
    let total = output_len(frames as u64, in_rate as u64, out_rate as u64) as usize;

    let mut whole = vec![f32::NAN; total * channels];
    let result = r.resample(input, &mut whole);
    if !values_ok(input) {
        expect_invalid(result);
        // The stream refuses them too, and stays usable.
        expect_invalid(r.process(input, &mut vec![0.0; r.process_len(frames) * channels]));
        return;
    }
    result.expect("valid input");
    assert!(whole.iter().all(|v| v.is_finite()), "non-finite output");

    let first = streamed(&mut r, input, channels, &case.chunks);
    assert_eq!(first.len(), total * channels);
    assert!(
        first
            .iter()
            .zip(&whole)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "streamed output differs from the whole-signal output"
    );
    // A half-fed stream, reset, then fed again gives the same output.
    let half = &input[..(frames / 2) * channels];
    let n = r.process_len(frames / 2);
    if frames / 2 > 0 {
        let mut scratch = vec![0.0; n * channels];
        let mut half_cm = Vec::with_capacity(half.len());
        for c in 0..channels {
            half_cm.extend_from_slice(&input[c * frames..c * frames + frames / 2]);
        }
        r.process(&half_cm, &mut scratch).expect("valid chunk");
    }
    r.reset();
    let again = streamed(&mut r, input, channels, &[]);
    assert!(again
        .iter()
        .zip(&whole)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
});
