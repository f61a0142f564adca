//! Resampling with rubato's synchronous FFT resampler (`rubato::Fft`).
//!
//! The filter design (block length, window) is chosen by the Python wrapper
//! (`remotemedia/kernels/_resample_design.py`) and handed in as `block_in`
//! (input frames per FFT block, N) and a window name; rubato derives the
//! output block M = N * out_rate / in_rate, the cutoff and the filter.
//!
//! The stream scheme, shared with the numpy twin in
//! `remotemedia/kernels/resample.py`:
//! - input is cut into blocks of N frames counted from the start of the
//!   stream, whatever the caller's chunking (a partial block waits in
//!   `pending`), so the output does not depend on the chunking;
//! - every block gives M output frames; the first `M / 2` output frames of
//!   the stream (the filter delay, exactly `M / 2` because N and M are even
//!   multiples of the reduced rates) are dropped, so the output is aligned;
//! - `flush` zero-fills the partial block and feeds silence until the output
//!   reaches `round(frames_in * out_rate / in_rate)` (half to even) frames.
//!
//! Buffers are (channels, frames) laid out flat, channel after channel,
//! float32. Every function checks what it relies on and returns a
//! [`KernelError`] instead of panicking.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _, WindowFunction};

use crate::KernelError;

/// Largest accepted sample magnitude. Above it an FFT of a block could
/// overflow float32 (and rubato would panic on the resulting NaN); audio is
/// normally within +-1.
pub const MAX_ABS_SAMPLE: f32 = 1e30;

/// What the error for out-of-range sample values says was expected and given:
/// the same words as the numpy implementation's error (``1e+30`` is how Python
/// writes 1e30), so both raise the same `KernelInputError`.
pub const VALUE_EXPECTED: &str = "finite values of magnitude at most 1e+30";
pub const VALUE_GIVEN: &str = "an array with NaN, inf or larger values";

/// rubato's window function by its remotemedia name.
pub fn window_from_name(name: &str) -> Result<WindowFunction, KernelError> {
    Ok(match name {
        "blackman" => WindowFunction::Blackman,
        "blackman2" => WindowFunction::Blackman2,
        "blackman_harris" => WindowFunction::BlackmanHarris,
        "blackman_harris2" => WindowFunction::BlackmanHarris2,
        "hann" => WindowFunction::Hann,
        "hann2" => WindowFunction::Hann2,
        other => {
            return Err(KernelError::invalid(
                "window",
                "one of blackman, blackman2, blackman_harris, blackman_harris2, hann, hann2",
                format!("{other:?}"),
            ))
        }
    })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `round(frames * out_rate / in_rate)`, half to even, exact in integers.
pub fn output_len(frames: u64, in_rate: u64, out_rate: u64) -> u64 {
    let num = frames as u128 * out_rate as u128;
    let den = in_rate as u128;
    let (q, r) = (num / den, num % den);
    let q = q as u64;
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// True when every sample is a number of magnitude at most [`MAX_ABS_SAMPLE`].
// The negated compare is the point: it is true for NaN too (no `partial_cmp` needed).
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn values_ok(samples: &[f32]) -> bool {
    // `!(|x| <= MAX)` is true for NaN and for too large values alike: one compare per sample,
    // or-ed into eight independent u32 lanes, which compiles to packed and/compare/or (the
    // speech chain's profile: 1.4% -> 1.0% of samples here, from bool lanes with two tests).
    let mut bad = [0u32; 8];
    let mut lanes = samples.chunks_exact(8);
    for c in &mut lanes {
        for j in 0..8 {
            bad[j] |= u32::from(!(c[j].abs() <= MAX_ABS_SAMPLE));
        }
    }
    let tail_bad = lanes
        .remainder()
        .iter()
        .any(|v| !(v.abs() <= MAX_ABS_SAMPLE));
    !(tail_bad || bad.iter().any(|&b| b != 0))
}

/// The block resampler plus the stream bookkeeping: one stream, any chunking.
pub struct Resampler {
    fft: Fft<f32>,
    channels: usize,
    in_rate: u64,
    out_rate: u64,
    block_in: usize,
    block_out: usize,
    delay: usize,
    /// Partial input block, channel c at `[c * block_in ..]`.
    pending: Vec<f32>,
    pending_len: usize,
    /// One output block, channel c at `[c * block_out ..]`.
    scratch: Vec<f32>,
    blocks_done: u64,
    frames_in: u64,
    frames_out: u64,
}

/// The most channels one resampler takes (the Python wrapper has the same bound).
pub const MAX_CHANNELS: usize = 4096;
/// Sample rates the engine takes, in Hz (the Python wrapper has the same bounds).
pub const MIN_RATE: usize = 8_000;
pub const MAX_RATE: usize = 192_000;
/// The most samples in one channels x block buffer (2^27: 4096 channels of
/// the longest blocks the Python wrapper plans, 32768 frames).
pub const MAX_BUFFER_VALUES: usize = 1 << 27;

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz in blocks of `block_in`
    /// input frames (an even multiple of `in_rate / gcd(in_rate, out_rate)`),
    /// with rubato's window `window`, for `channels` channels.
    pub fn new(
        in_rate: usize,
        out_rate: usize,
        block_in: usize,
        window: &str,
        channels: usize,
    ) -> Result<Self, KernelError> {
        let window = window_from_name(window)?;
        if !(MIN_RATE..=MAX_RATE).contains(&in_rate) || !(MIN_RATE..=MAX_RATE).contains(&out_rate) {
            // The Python wrapper has the same bounds; here they keep a hostile
            // call from sizing an output array by an absurd rate ratio.
            return Err(KernelError::invalid(
                "rates",
                format!("{MIN_RATE} to {MAX_RATE} Hz"),
                format!("{in_rate} -> {out_rate}"),
            ));
        }
        if channels == 0 || channels > MAX_CHANNELS {
            // A bound, so a hostile channel count cannot size an allocation
            // that aborts the process (Rust aborts on allocation failure).
            return Err(KernelError::invalid(
                "channels",
                format!("1 to {MAX_CHANNELS}"),
                channels,
            ));
        }
        let g = gcd(in_rate as u64, out_rate as u64) as usize;
        let (unit_in, unit_out) = (in_rate / g, out_rate / g);
        if block_in == 0
            || !block_in.is_multiple_of(unit_in)
            || !(block_in / unit_in).is_multiple_of(2)
        {
            return Err(KernelError::invalid(
                "block_in",
                format!("an even multiple of {unit_in} (in_rate / gcd)"),
                block_in,
            ));
        }
        let k = block_in / unit_in;
        let block_out = k
            .checked_mul(unit_out)
            .filter(|&m| m <= 1 << 24 && block_in <= 1 << 24)
            .ok_or_else(|| {
                KernelError::invalid(
                    "block_in",
                    "blocks of at most 2^24 frames",
                    format!("{block_in} -> {k} * {unit_out}"),
                )
            })?;
        if channels * block_in.max(block_out) > MAX_BUFFER_VALUES {
            // Every buffer (pending input, output block, rubato's FFT state)
            // is channels x block long: bound it before allocating.
            return Err(KernelError::invalid(
                "channels x block",
                format!("at most {MAX_BUFFER_VALUES} samples per buffer"),
                format!("{channels} x {}", block_in.max(block_out)),
            ));
        }
        let fft = Fft::<f32>::new_custom(
            in_rate,
            out_rate,
            block_in,
            1,
            channels,
            window,
            FixedSync::Input,
        )
        .map_err(|e| {
            KernelError::invalid(
                "block_in",
                "a block rubato can build",
                format!("{block_in} ({e})"),
            )
        })?;
        if fft.fft_size_in() != block_in || fft.fft_size_out() != block_out {
            return Err(KernelError::internal(format!(
                "rubato chose blocks {} -> {}, expected {block_in} -> {block_out}",
                fft.fft_size_in(),
                fft.fft_size_out()
            )));
        }
        Ok(Resampler {
            fft,
            channels,
            in_rate: in_rate as u64,
            out_rate: out_rate as u64,
            block_in,
            block_out,
            delay: block_out / 2,
            pending: vec![0.0; channels * block_in],
            pending_len: 0,
            scratch: vec![0.0; channels * block_out],
            blocks_done: 0,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Output frames emitted once `blocks` blocks have been resampled.
    fn emitted_after(&self, blocks: u64) -> u64 {
        (blocks * self.block_out as u64).saturating_sub(self.delay as u64)
    }

    /// Output frames that `process` of `frames` more input frames returns.
    pub fn process_len(&self, frames: usize) -> usize {
        let blocks = self.blocks_done + ((self.pending_len + frames) / self.block_in) as u64;
        (self.emitted_after(blocks) - self.frames_out) as usize
    }

    /// Output frames that `flush` returns.
    pub fn flush_len(&self) -> usize {
        (output_len(self.frames_in, self.in_rate, self.out_rate) - self.frames_out) as usize
    }

    /// Resamples one block into `scratch`, then appends its undelayed part to
    /// `out` (channel c at `[c * stride ..]`) from column `*out_pos`, up to
    /// column `out_end`.
    ///
    /// `source` selects the input: `None` = the pending block (zero-filled
    /// after `partial` frames), `Some((samples, frames, offset))` = a whole
    /// block of the caller's input starting at frame `offset`.
    fn emit(
        &mut self,
        source: Option<(&[f32], usize, usize)>,
        partial: Option<usize>,
        out: &mut [f32],
        stride: usize,
        out_pos: &mut usize,
        out_end: usize,
    ) -> Result<(), KernelError> {
        let m = self.block_out;
        let mut dst = SequentialSlice::new_mut(&mut self.scratch[..], self.channels, m)
            .map_err(|e| KernelError::internal(e.to_string()))?;
        let (src_buf, src_frames, offset) = match source {
            Some(s) => s,
            None => (&self.pending[..], self.block_in, 0),
        };
        let src = SequentialSlice::new(src_buf, self.channels, src_frames)
            .map_err(|e| KernelError::internal(e.to_string()))?;
        let mut indexing = Indexing::new().input_offset(offset);
        indexing.partial_len = partial;
        self.fft
            .process_into_buffer(&src, &mut dst, Some(&indexing))
            .map_err(|e| KernelError::internal(e.to_string()))?;
        let produced_before = self.blocks_done * m as u64;
        self.blocks_done += 1;
        let skip = (self.delay as u64)
            .saturating_sub(produced_before)
            .min(m as u64) as usize;
        let take = (m - skip).min(out_end - *out_pos);
        if take > 0 {
            for c in 0..self.channels {
                let from = &self.scratch[c * m + skip..c * m + skip + take];
                out[c * stride + *out_pos..c * stride + *out_pos + take].copy_from_slice(from);
            }
        }
        *out_pos += take;
        self.frames_out += take as u64;
        Ok(())
    }

    /// Feeds `frames` frames of `input` (channels x frames); writes exactly
    /// `process_len(frames)` frames into `out` (channel stride `stride`) from
    /// column `start`.
    fn process_at(
        &mut self,
        input: &[f32],
        frames: usize,
        out: &mut [f32],
        stride: usize,
        start: usize,
    ) -> Result<(), KernelError> {
        let (n, ch) = (self.block_in, self.channels);
        let out_end = start + self.process_len(frames);
        let mut pos = 0usize;
        let mut out_pos = start;
        if self.pending_len > 0 {
            let take = (n - self.pending_len).min(frames);
            for c in 0..ch {
                self.pending[c * n + self.pending_len..c * n + self.pending_len + take]
                    .copy_from_slice(&input[c * frames..c * frames + take]);
            }
            self.pending_len += take;
            pos = take;
            if self.pending_len == n {
                self.emit(None, None, out, stride, &mut out_pos, out_end)?;
                self.pending_len = 0;
            }
        }
        while frames - pos >= n {
            self.emit(
                Some((input, frames, pos)),
                None,
                out,
                stride,
                &mut out_pos,
                out_end,
            )?;
            pos += n;
        }
        let rest = frames - pos;
        if rest > 0 {
            for c in 0..ch {
                self.pending[c * n..c * n + rest]
                    .copy_from_slice(&input[c * frames + pos..c * frames + frames]);
            }
            self.pending_len = rest;
        }
        self.frames_in += frames as u64;
        if out_pos != out_end {
            return Err(KernelError::internal(format!(
                "internal: wrote up to frame {out_pos}, expected {out_end}"
            )));
        }
        Ok(())
    }

    /// Ends the stream: writes exactly `flush_len()` frames into `out`
    /// (channel stride `stride`) from column `start`, then resets the engine
    /// for a new stream.
    fn flush_at(
        &mut self,
        out: &mut [f32],
        stride: usize,
        start: usize,
    ) -> Result<(), KernelError> {
        let out_end = start + self.flush_len();
        let mut out_pos = start;
        let mut partial = self.pending_len;
        while out_pos < out_end {
            self.emit(None, Some(partial), out, stride, &mut out_pos, out_end)?;
            partial = 0;
        }
        self.reset();
        Ok(())
    }

    /// Drops the stream state (pending input, filter memory).
    pub fn reset(&mut self) {
        self.fft.reset();
        self.pending_len = 0;
        self.blocks_done = 0;
        self.frames_in = 0;
        self.frames_out = 0;
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Output frames between an input event and its appearance in the output
    /// of `process` (the part held back until `flush`).
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Output frames per block (M).
    pub fn block_out(&self) -> usize {
        self.block_out
    }

    /// rubato's anti-aliasing cutoff, relative to the input Nyquist.
    pub fn cutoff(&self) -> f32 {
        self.fft.cutoff()
    }

    /// Input frames in `input` ((channels, frames), flat), or an error when
    /// its length is not a whole number of frames or a value is out of range.
    fn frames_of(&self, input: &[f32]) -> Result<usize, KernelError> {
        if !input.len().is_multiple_of(self.channels) {
            return Err(KernelError::invalid(
                "samples",
                format!(
                    "a multiple of {} values ({} channels)",
                    self.channels, self.channels
                ),
                input.len(),
            ));
        }
        if !values_ok(input) {
            return Err(KernelError::invalid("samples", VALUE_EXPECTED, VALUE_GIVEN));
        }
        Ok(input.len() / self.channels)
    }

    fn check_out(&self, out: &[f32], frames: usize) -> Result<(), KernelError> {
        let want = frames.checked_mul(self.channels);
        if want != Some(out.len()) {
            return Err(KernelError::invalid(
                "out",
                format!("{frames} frames x {} channels", self.channels),
                format!("{} values", out.len()),
            ));
        }
        Ok(())
    }

    /// Feeds `input` ((channels, frames), flat) and writes the output frames
    /// that are complete into `out`, which must hold exactly
    /// `process_len(frames)` frames ((channels, n), flat).
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), KernelError> {
        let frames = self.frames_of(input)?;
        let n = self.process_len(frames);
        self.check_out(out, n)?;
        self.process_at(input, frames, out, n, 0)
    }

    /// Ends the stream: writes the rest of the output into `out`, which must
    /// hold exactly `flush_len()` frames, then resets for a new stream.
    pub fn flush(&mut self, out: &mut [f32]) -> Result<(), KernelError> {
        let n = self.flush_len();
        self.check_out(out, n)?;
        self.flush_at(out, n, 0)
    }

    /// Whole-signal resampling from a fresh state: `input` ((channels,
    /// frames), flat) into `out`, which must hold exactly
    /// `output_len(frames, in_rate, out_rate)` frames. Leaves the resampler
    /// reset, ready for another signal.
    pub fn resample(&mut self, input: &[f32], out: &mut [f32]) -> Result<(), KernelError> {
        self.reset();
        let frames = self.frames_of(input)?;
        let total = output_len(frames as u64, self.in_rate, self.out_rate) as usize;
        self.check_out(out, total)?;
        // The blocks complete in the input, then the flush, both written
        // straight into the one output.
        let head = self.process_len(frames);
        let done = self.process_at(input, frames, out, total, 0);
        let done = done.and_then(|()| self.flush_at(out, total, head));
        if done.is_err() {
            self.reset();
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_ok_refuses_nan_infinity_and_huge_values_in_every_lane_and_the_tail() {
        for n in [1usize, 7, 8, 9, 16, 23] {
            assert!(values_ok(&vec![0.5f32; n]));
            assert!(values_ok(&vec![-MAX_ABS_SAMPLE; n]));
            for at in 0..n {
                for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2e30, -2e30] {
                    let mut x = vec![0.25f32; n];
                    x[at] = v;
                    assert!(!values_ok(&x), "n={n} at={at} v={v}");
                }
            }
        }
        assert!(values_ok(&[]));
    }

    fn invalid<T>(r: Result<T, KernelError>) -> String {
        match r {
            Err(e @ KernelError::Invalid { .. }) => e.message(),
            Err(e) => panic!("expected Invalid, got {e:?}"),
            Ok(_) => panic!("expected Invalid, got Ok"),
        }
    }

    #[test]
    fn construction_errors_name_the_parameter() {
        assert!(invalid(Resampler::new(48_000, 16_000, 6, "nope", 1)).starts_with("window:"));
        assert!(invalid(Resampler::new(7_999, 16_000, 6, "hann", 1)).starts_with("rates:"));
        assert!(invalid(Resampler::new(48_000, 192_001, 6, "hann", 1)).starts_with("rates:"));
        assert!(invalid(Resampler::new(48_000, 16_000, 6, "hann", 0)).starts_with("channels:"));
        assert!(invalid(Resampler::new(48_000, 16_000, 6, "hann", 4097)).starts_with("channels:"));
        // 48k -> 16k: N must be an even multiple of 3.
        assert!(invalid(Resampler::new(48_000, 16_000, 9, "hann", 1)).starts_with("block_in:"));
        assert!(invalid(Resampler::new(48_000, 16_000, 0, "hann", 1)).starts_with("block_in:"));
    }

    #[test]
    fn huge_buffers_are_refused_before_allocating() {
        // 4096 channels x 2^16 frames = 2^28 samples per buffer (1 GiB): refused.
        let m = invalid(Resampler::new(48_000, 48_000, 1 << 16, "hann", 4096));
        assert!(m.starts_with("channels x block:"), "{m}");
        // Just under the bound is built (8 channels: 2^27 / 2^16 = 2048 would take gigabytes).
        let r = Resampler::new(48_000, 48_000, 1 << 16, "hann", 8).unwrap();
        assert_eq!(r.block_out(), 1 << 16);
    }

    #[test]
    fn streamed_equals_whole_and_sizes_are_checked() {
        let (ch, frames) = (2usize, 1_000usize);
        let input: Vec<f32> = (0..ch * frames)
            .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let mut r = Resampler::new(48_000, 16_000, 96, "blackman_harris2", ch).unwrap();
        let total = output_len(frames as u64, 48_000, 16_000) as usize;
        assert_eq!(total, 333);
        let mut whole = vec![0.0; total * ch];
        r.resample(&input, &mut whole).unwrap();
        // Streamed in chunks of 37 frames.
        let mut got: Vec<Vec<f32>> = vec![Vec::new(); ch];
        let mut pos = 0;
        while pos < frames {
            let n_in = 37.min(frames - pos);
            let chunk: Vec<f32> = (0..ch)
                .flat_map(|c| input[c * frames + pos..c * frames + pos + n_in].to_vec())
                .collect();
            let n = r.process_len(n_in);
            let mut out = vec![0.0; n * ch];
            assert!(invalid(r.process(&chunk, &mut vec![0.0; n * ch + 1])).starts_with("out:"));
            r.process(&chunk, &mut out).unwrap();
            for c in 0..ch {
                got[c].extend_from_slice(&out[c * n..(c + 1) * n]);
            }
            pos += n_in;
        }
        let n = r.flush_len();
        let mut out = vec![0.0; n * ch];
        r.flush(&mut out).unwrap();
        for c in 0..ch {
            got[c].extend_from_slice(&out[c * n..(c + 1) * n]);
        }
        assert_eq!(got.concat(), whole);
        // Bad values and ragged input are refused.
        let mut bad = input.clone();
        bad[5] = f32::NAN;
        assert_eq!(
            invalid(r.resample(&bad, &mut whole)),
            "samples: expected finite values of magnitude at most 1e+30, given an array with NaN, inf or larger values"
        );
        bad[5] = 2e30;
        assert_eq!(
            invalid(r.resample(&bad, &mut whole)),
            "samples: expected finite values of magnitude at most 1e+30, given an array with NaN, inf or larger values"
        );
        assert!(invalid(r.process(&input[..3], &mut [])).starts_with("samples:"));
    }

    #[test]
    fn output_len_rounds_half_to_even() {
        assert_eq!(output_len(3, 2, 1), 2); // 1.5 -> 2
        assert_eq!(output_len(5, 2, 1), 2); // 2.5 -> 2
        assert_eq!(output_len(7, 2, 1), 4); // 3.5 -> 4
        assert_eq!(output_len(48000, 48000, 16000), 16000);
        assert_eq!(output_len(1, 44100, 16000), 0);
    }
}
