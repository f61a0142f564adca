// This module is part of a pure-Rust reimplementation of the WebRTC voice
// activity detector as packaged by libfvad (the fixed-point GMM VAD of the
// WebRTC project). It was written from the algorithm, reproducing the C
// integer semantics (int16/int32 wrap-around, arithmetic shifts, truncating
// division) so that it makes the same decision as libfvad for every frame.
// The algorithm, its constants and tables come from the WebRTC project and
// libfvad, distributed under the following licence:
//
// Copyright (c) 2011, The WebRTC project authors. All rights reserved.
// Copyright (c) 2016 Daniel Pirch
//
// Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are
// met:
//
//   * Redistributions of source code must retain the above copyright
//     notice, this list of conditions and the following disclaimer.
//
//   * Redistributions in binary form must reproduce the above copyright
//     notice, this list of conditions and the following disclaimer in
//     the documentation and/or other materials provided with the
//     distribution.
//
//   * Neither the name of Google nor the names of its contributors may
//     be used to endorse or promote products derived from this software
//     without specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
// "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
// LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
// A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
// HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
// SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
// LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
// DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
// THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
// (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
// OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

//! Resamplers feeding the 8 kHz detector: the half-band all-pass decimator
//! used at 16 and 32 kHz (`WebRtcVad_Downsampling`) and the 48 -> 8 kHz
//! chain of the signal processing library (`WebRtcSpl_Resample48khzTo8khz`:
//! 48 -> 24 kHz, low-pass at 24 kHz, 24 -> 16 kHz FIR, 16 -> 8 kHz).
//!
//! The filter states live in local variables inside each loop (upstream
//! reads and writes them through memory on every sample); the arithmetic,
//! its order and its int32 wrap-around are upstream's.

/// All-pass coefficients (Q13) of the 2:1 decimator, upper and lower branch.
const DS_COEFS_Q13: [i32; 2] = [5243, 1392];

/// `WebRtcVad_Downsampling`: halves `input` into `out` (`out.len()` pairs of
/// `input` are read). `state` holds the two int32 branch states.
pub(crate) fn downsample_by_2(input: &[i16], out: &mut [i16], state: &mut [i32; 2]) {
    let [mut s1, mut s2] = *state;
    for (o, pair) in out.iter_mut().zip(input.chunks_exact(2)) {
        let (a, b) = (pair[0] as i32, pair[1] as i32);
        // Upper branch on even samples, lower branch on odd ones.
        let t1 = ((s1 >> 1).wrapping_add((DS_COEFS_Q13[0] * a) >> 14)) as i16;
        s1 = a - ((DS_COEFS_Q13[0] * t1 as i32) >> 12);
        let t2 = ((s2 >> 1).wrapping_add((DS_COEFS_Q13[1] * b) >> 14)) as i16;
        s2 = b - ((DS_COEFS_Q13[1] * t2 as i32) >> 12);
        *o = t1.wrapping_add(t2);
    }
    *state = [s1, s2];
}

/// All-pass coefficients (Q15 fractions) of the resample-by-2 cascades.
const ALLPASS_UPPER: [i32; 3] = [821, 6110, 12382];
const ALLPASS_LOWER: [i32; 3] = [3050, 9368, 15063];

/// One cascade of three first-order all-pass sections over int32 samples:
/// four state words, the first section rounding, the other two truncating
/// (with upstream's `+1` for negative values). Returns the new `s[3]`.
#[inline(always)]
fn allpass3(x: i32, s: &mut [i32; 4], c: &[i32; 3]) -> i32 {
    let diff = (x.wrapping_sub(s[1]).wrapping_add(1 << 13)) >> 14;
    let t1 = s[0].wrapping_add(diff.wrapping_mul(c[0]));
    s[0] = x;
    let mut diff = t1.wrapping_sub(s[2]) >> 14;
    if diff < 0 {
        diff += 1;
    }
    let t0 = s[1].wrapping_add(diff.wrapping_mul(c[1]));
    s[1] = t1;
    let mut diff = t0.wrapping_sub(s[3]) >> 14;
    if diff < 0 {
        diff += 1;
    }
    s[3] = s[2].wrapping_add(diff.wrapping_mul(c[2]));
    s[2] = t0;
    s[3]
}

#[inline(always)]
fn split8(state: &[i32; 8]) -> ([i32; 4], [i32; 4]) {
    (
        [state[0], state[1], state[2], state[3]],
        [state[4], state[5], state[6], state[7]],
    )
}

#[inline(always)]
fn join8(lo: [i32; 4], hi: [i32; 4]) -> [i32; 8] {
    [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]]
}

/// `WebRtcSpl_DownBy2ShortToInt`: int16 in, `out.len()` int32 out (Q15 with
/// an offset of 2^14 on the input).
fn down_by_2_short_to_int(input: &[i16], out: &mut [i32], state: &mut [i32; 8]) {
    let (mut lo, mut hi) = split8(state);
    for (o, pair) in out.iter_mut().zip(input.chunks_exact(2)) {
        let even = ((pair[0] as i32) << 15) + (1 << 14);
        let odd = ((pair[1] as i32) << 15) + (1 << 14);
        let a = allpass3(even, &mut lo, &ALLPASS_LOWER) >> 1;
        let b = allpass3(odd, &mut hi, &ALLPASS_UPPER) >> 1;
        *o = a.wrapping_add(b);
    }
    *state = join8(lo, hi);
}

/// `WebRtcSpl_LPBy2IntToInt`: a half-band low-pass at the same rate,
/// `out.len() == input.len()` int32 samples (input length even).
fn lp_by_2_int_to_int(input: &[i32], out: &mut [i32], state: &mut [i32; 16]) {
    let half = input.len() / 2;
    let (input, out) = (&input[..half * 2], &mut out[..half * 2]);
    // Even outputs: lower cascade on the previous odd input (its delay
    // element is state[12], the last odd input of the previous call), upper
    // cascade on the even input.
    let mut lo = [state[0], state[1], state[2], state[3]];
    let mut hi = [state[4], state[5], state[6], state[7]];
    let mut prev_odd = state[12];
    for (o, pair) in out.chunks_exact_mut(2).zip(input.chunks_exact(2)) {
        let a = allpass3(prev_odd, &mut lo, &ALLPASS_LOWER) >> 1;
        let b = allpass3(pair[0], &mut hi, &ALLPASS_UPPER) >> 1;
        o[0] = a.wrapping_add(b) >> 15;
        prev_odd = pair[1];
    }
    state[..4].copy_from_slice(&lo);
    state[4..8].copy_from_slice(&hi);
    // Odd outputs: lower cascade on the even input, upper on the odd input.
    let mut lo = [state[8], state[9], state[10], state[11]];
    let mut hi = [state[12], state[13], state[14], state[15]];
    for (o, pair) in out.chunks_exact_mut(2).zip(input.chunks_exact(2)) {
        let a = allpass3(pair[0], &mut lo, &ALLPASS_LOWER) >> 1;
        let b = allpass3(pair[1], &mut hi, &ALLPASS_UPPER) >> 1;
        o[1] = a.wrapping_add(b) >> 15;
    }
    state[8..12].copy_from_slice(&lo);
    state[12..].copy_from_slice(&hi);
}

/// Interpolation coefficients of the 3:2 FIR (`WebRtcSpl_Resample48khzTo32khz`).
const FIR_48_TO_32: [[i32; 8]; 2] = [
    [778, -2050, 1087, 23285, 12903, -3783, 441, 222],
    [222, 441, -3783, 12903, 23285, 1087, -2050, 778],
];

/// `WebRtcSpl_Resample48khzTo32khz`: every 3 input samples (plus 6 of
/// history) give 2 outputs; `input.len() >= 3 * blocks + 6`.
fn resample_3_to_2(input: &[i32], out: &mut [i32]) {
    for (o, win) in out.chunks_exact_mut(2).zip(input.windows(9).step_by(3)) {
        let mut a = 1i32 << 14;
        let mut b = 1i32 << 14;
        for k in 0..8 {
            a = a.wrapping_add(FIR_48_TO_32[0][k].wrapping_mul(win[k]));
            b = b.wrapping_add(FIR_48_TO_32[1][k].wrapping_mul(win[k + 1]));
        }
        o[0] = a;
        o[1] = b;
    }
}

/// `WebRtcSpl_DownBy2IntToShort`: int32 in (Q15 + offset), `out.len()`
/// saturated int16 out.
fn down_by_2_int_to_short(input: &[i32], out: &mut [i16], state: &mut [i32; 8]) {
    let (mut lo, mut hi) = split8(state);
    for (o, pair) in out.iter_mut().zip(input.chunks_exact(2)) {
        let a = allpass3(pair[0], &mut lo, &ALLPASS_LOWER) >> 1;
        let b = allpass3(pair[1], &mut hi, &ALLPASS_UPPER) >> 1;
        *o = (a.wrapping_add(b) >> 15).clamp(-32768, 32767) as i16;
    }
    *state = join8(lo, hi);
}

/// State of the 48 -> 8 kHz resampler (`WebRtcSpl_State48khzTo8khz`).
#[derive(Clone, Default)]
pub(crate) struct Resampler48To8 {
    s_48_24: [i32; 8],
    s_24_24: [i32; 16],
    s_24_16: [i32; 8],
    s_16_8: [i32; 8],
}

impl Resampler48To8 {
    /// 480 samples at 48 kHz in (10 ms), 80 samples at 8 kHz out (`out`
    /// has 80 samples).
    pub(crate) fn process(&mut self, input: &[i16; 480], out: &mut [i16]) {
        let mut t24 = [0i32; 240];
        down_by_2_short_to_int(input, &mut t24, &mut self.s_48_24);
        // The 24 kHz low-pass output follows 8 samples of history for the FIR.
        let mut lp = [0i32; 248];
        lp[..8].copy_from_slice(&self.s_24_16);
        lp_by_2_int_to_int(&t24, &mut lp[8..], &mut self.s_24_24);
        self.s_24_16.copy_from_slice(&lp[240..]);
        let mut t16 = [0i32; 160];
        resample_3_to_2(&lp, &mut t16);
        down_by_2_int_to_short(&t16, out, &mut self.s_16_8);
    }
}
