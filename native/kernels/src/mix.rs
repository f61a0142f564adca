//! Channel mix-down to mono: the mean of the channels of every frame.
//!
//! Rules (identical bit for bit to the numpy implementation in
//! `remotemedia/kernels/mix.py`, and to what `AudioBuffer.to_mono()` gave
//! before this kernel existed, `np.rint(x.mean(axis=0, dtype=np.float64))`):
//! - float32/float64: +0.0 + channel 0 + channel 1 + ... + channel C-1 in
//!   float64, in that order, divided by C in float64, cast to the input type
//!   (round to nearest even); NaN and inf propagate as in IEEE arithmetic.
//!   (numpy's `mean(axis=0)` sums in this order too, except when the channel
//!   axis is the contiguous one and C >= 8: then it sums pairwise);
//! - int16/int32: the exact mean rounded half to even. The sum is exact in
//!   i32 (int16) or i64 (int32) since C <= 1024. For C a power of two the
//!   rounding is done with integer shifts; otherwise through float64,
//!   `round_ties_even(sum as f64 / C)`, which is the same number: `sum` is
//!   exact in f64 (|sum| <= 2^41), and the exact quotient s/C is either a
//!   half-integer (then representable, |s/C| <= 2^31, so division is exact)
//!   or at least 1/(2C) >= 2^-11 away from every half-integer, while the
//!   division's error is at most half an ulp of a value <= 2^31, 2^-22. So the
//!   rounded quotient lies strictly between the same two half-integers as s/C
//!   and rounds to the same integer.
//!
//! Layouts: `Planar` is channel after channel (`src[c * frames + f]`, a
//! C-contiguous (channels, frames) array); `Interleaved` is frame after frame
//! (`src[f * channels + c]`, the transpose of a C-contiguous (frames,
//! channels) array, as PCM readers give). The result has `dst.len()` frames.
//!
//! On x86_64 the loops are compiled twice, for the baseline and for AVX2,
//! and the AVX2 copy runs when the CPU has it (same code, same results: no
//! reassociation happens, each frame is summed in channel order).

use crate::KernelError;

/// The largest channel count accepted.
pub const MAX_CHANNELS: usize = 1024;

/// How the channels of `src` are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Channel after channel: `src[c * frames + f]`.
    Planar,
    /// Frame after frame: `src[f * channels + c]`.
    Interleaved,
}

/// Frames per block of the planar accumulator (on the stack, in L1).
const BLOCK: usize = 1024;

fn check(n_src: usize, channels: usize, frames: usize) -> Result<(), KernelError> {
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(KernelError::invalid(
            "channels",
            format!("1 to {MAX_CHANNELS}"),
            channels,
        ));
    }
    match channels.checked_mul(frames) {
        Some(n) if n == n_src => Ok(()),
        _ => Err(KernelError::invalid(
            "samples",
            format!("{channels} channels x {frames} frames"),
            format!("{n_src} samples"),
        )),
    }
}

/// Integer mean of `C = 1 << shift` channels from the exact sum, rounded
/// half to even (`shift >= 1`): floor by an arithmetic shift, then up by one
/// when the remainder is above half, or exactly half and the floor is odd.
macro_rules! pow2_round {
    ($acc:ty) => {
        |s: $acc, shift: u32| -> $acc {
            let half: $acc = 1 << (shift - 1);
            let q = s >> shift;
            let r = s & ((half << 1) - 1);
            q + ((r > half) | ((r == half) & ((q & 1) == 1))) as $acc
        }
    };
}

/// The loops for one integer type: `$acc` holds an exact sum of up to
/// `MAX_CHANNELS` samples; `$magic` is 1.5 * 2^52 (adding and subtracting it
/// rounds a float64 of magnitude < 2^51 to an integer, ties to even, and
/// unlike `round_ties_even` it vectorises on baseline x86-64).
macro_rules! int_kernel {
    ($name:ident, $body:ident, $t:ty, $acc:ty) => {
        #[inline(always)]
        fn $body(src: &[$t], channels: usize, layout: Layout, dst: &mut [$t]) {
            const MAGIC: f64 = 6_755_399_441_055_744.0;
            let frames = dst.len();
            if channels == 1 {
                dst.copy_from_slice(src);
                return;
            }
            if channels == 2 {
                // The main case, with the shift fixed: floor, plus one on a tie
                // (odd sum) with an odd floor. LLVM keeps this in 16-bit lanes.
                sum_frames!($t, $acc, src, 2, frames, layout, dst, |s: $acc| {
                    let q = s >> 1;
                    (q + (s & q & 1)) as $t
                });
            } else if channels.is_power_of_two() {
                let shift = channels.trailing_zeros();
                let fin = pow2_round!($acc);
                sum_frames!(
                    $t,
                    $acc,
                    src,
                    channels,
                    frames,
                    layout,
                    dst,
                    |s| fin(s, shift) as $t
                );
            } else {
                let c = channels as f64;
                sum_frames!($t, $acc, src, channels, frames, layout, dst, |s| {
                    let m = ((s as f64 / c) + MAGIC) - MAGIC;
                    // SAFETY: the mean of values of $t, rounded to an integer,
                    // is finite and within the range of $t (see the module doc).
                    unsafe { m.to_int_unchecked::<$t>() }
                });
            }
        }
        dispatch!($name, $body, $t);
    };
}

/// Sums every frame in channel order into `$acc`, and writes `$fin(sum)`.
macro_rules! sum_frames {
    ($t:ty, $acc:ty, $src:expr, $channels:expr, $frames:expr, $layout:expr, $dst:expr, $fin:expr) => {{
        let (src, channels, frames, dst) = ($src, $channels, $frames, $dst);
        let fin = $fin;
        match $layout {
            Layout::Planar if channels == 2 => {
                let (a, b) = src.split_at(frames);
                for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
                    *d = fin(x as $acc + y as $acc);
                }
            }
            Layout::Planar => {
                let mut acc = [<$acc>::default(); BLOCK];
                for (blk, d) in dst.chunks_mut(BLOCK).enumerate() {
                    let start = blk * BLOCK;
                    let acc = &mut acc[..d.len()];
                    for (a, &x) in acc.iter_mut().zip(&src[start..]) {
                        *a = x as $acc;
                    }
                    for ch in 1..channels {
                        for (a, &x) in acc.iter_mut().zip(&src[ch * frames + start..]) {
                            *a += x as $acc;
                        }
                    }
                    for (o, &a) in d.iter_mut().zip(acc.iter()) {
                        *o = fin(a);
                    }
                }
            }
            Layout::Interleaved if channels == 2 => {
                for (d, f) in dst.iter_mut().zip(src.chunks_exact(2)) {
                    *d = fin(f[0] as $acc + f[1] as $acc);
                }
            }
            Layout::Interleaved => {
                /// A fixed channel count: the frame's sum unrolls, and LLVM
                /// vectorises across frames.
                #[inline(always)]
                fn fixed<const N: usize>(src: &[$t], dst: &mut [$t], fin: impl Fn($acc) -> $t) {
                    for (d, f) in dst.iter_mut().zip(src.chunks_exact(N)) {
                        let mut s = f[0] as $acc;
                        for &x in &f[1..N] {
                            s += x as $acc;
                        }
                        *d = fin(s);
                    }
                }
                match channels {
                    3 => fixed::<3>(src, dst, fin),
                    4 => fixed::<4>(src, dst, fin),
                    5 => fixed::<5>(src, dst, fin),
                    6 => fixed::<6>(src, dst, fin),
                    7 => fixed::<7>(src, dst, fin),
                    8 => fixed::<8>(src, dst, fin),
                    _ => {
                        for (d, f) in dst.iter_mut().zip(src.chunks_exact(channels)) {
                            let mut s = f[0] as $acc;
                            for &x in &f[1..] {
                                s += x as $acc;
                            }
                            *d = fin(s);
                        }
                    }
                }
            }
        }
    }};
}

/// The loops for one float type: float64 sum in channel order, / C, cast.
macro_rules! float_kernel {
    ($name:ident, $body:ident, $t:ty) => {
        #[inline(always)]
        fn $body(src: &[$t], channels: usize, layout: Layout, dst: &mut [$t]) {
            let frames = dst.len();
            if channels == 1 {
                dst.copy_from_slice(src);
                return;
            }
            let c = channels as f64;
            // `+ 0.0` turns a sum of -0.0 only into +0.0, as if the sum had
            // started from +0.0 (numpy's reduction does; nothing else changes).
            sum_frames!(
                $t,
                f64,
                src,
                channels,
                frames,
                layout,
                dst,
                |s: f64| ((s + 0.0) / c) as $t
            );
        }
        dispatch!($name, $body, $t);
    };
}

/// A public entry point: checks, then the AVX2 copy of the loops when the
/// CPU has it, else the baseline copy.
macro_rules! dispatch {
    ($name:ident, $body:ident, $t:ty) => {
        /// Mixes `channels` channels of `src` (laid out as `layout`) down to
        /// the `dst.len()` frames of `dst` (rules in the module doc).
        ///
        /// Errors (`KernelError::Invalid`): `channels` outside 1 to
        /// `MAX_CHANNELS`, or `src.len() != channels * dst.len()`.
        pub fn $name(
            src: &[$t],
            channels: usize,
            layout: Layout,
            dst: &mut [$t],
        ) -> Result<(), KernelError> {
            check(src.len(), channels, dst.len())?;
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                fn avx2(src: &[$t], channels: usize, layout: Layout, dst: &mut [$t]) {
                    $body(src, channels, layout, dst)
                }
                // SAFETY: AVX2 support was just checked.
                unsafe { avx2(src, channels, layout, dst) };
                return Ok(());
            }
            $body(src, channels, layout, dst);
            Ok(())
        }
    };
}

int_kernel!(mix_i16, mix_i16_body, i16, i32);
int_kernel!(mix_i32, mix_i32_body, i32, i64);
float_kernel!(mix_f32, mix_f32_body, f32);
float_kernel!(mix_f64, mix_f64_body, f64);

/// The baseline (non-AVX2) loops, for tests comparing both copies.
#[cfg(test)]
pub(crate) mod baseline {
    use super::*;

    pub fn mix_i16(src: &[i16], channels: usize, layout: Layout, dst: &mut [i16]) {
        mix_i16_body(src, channels, layout, dst)
    }
    pub fn mix_i32(src: &[i32], channels: usize, layout: Layout, dst: &mut [i32]) {
        mix_i32_body(src, channels, layout, dst)
    }
    pub fn mix_f32(src: &[f32], channels: usize, layout: Layout, dst: &mut [f32]) {
        mix_f32_body(src, channels, layout, dst)
    }
    pub fn mix_f64(src: &[f64], channels: usize, layout: Layout, dst: &mut [f64]) {
        mix_f64_body(src, channels, layout, dst)
    }
}

#[cfg(test)]
mod tests;
