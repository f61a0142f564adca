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

//! One Gaussian of the detector's mixture models
//! (`WebRtcVad_GaussianProbability`).

use super::spl::div_w32_w16;

/// Exponents at or above this give a zero probability.
const COMP_VAR: i32 = 22005;
/// log2(e) in Q12.
const LOG2_EXP: i32 = 5909;

/// `1 / std` in Q10 and `1 / std^2` in Q14, for `std` in Q7.
#[inline]
pub(crate) fn inv_std(std: i16) -> (i16, i16) {
    let inv = div_w32_w16(131072 + (std >> 1) as i32, std) as i16;
    let t = (inv >> 2) as i32;
    (inv, ((t * t) >> 2) as i16)
}

/// The probability (Q20) of `input` (Q4) under a normal distribution of
/// `mean` (Q7) and the inverse deviations of [`inv_std`], and the
/// normalised deviation `delta` = (input - mean) / std^2 (Q11) used by the
/// model update.
#[inline]
pub(crate) fn probability(input: i16, mean: i16, inv: (i16, i16)) -> (i32, i16) {
    let (inv_std, inv_std2) = inv;
    let x = (((input as i32) << 3) as i16).wrapping_sub(mean) as i32;
    let delta = ((inv_std2 as i32 * x) >> 10) as i16;
    let e = (delta as i32 * x) >> 9;
    let mut exp_value = 0i32;
    if e < COMP_VAR {
        // exp(-e) ~= 2^(-log2(e) * e), as a 10-bit mantissa shifted down.
        let t = ((LOG2_EXP.wrapping_mul(e) >> 12) as i16).wrapping_neg();
        let mantissa = (0x0400 | (t & 0x03FF)) as i32;
        let shift = ((!t) >> 10).wrapping_add(1);
        // The shift is in 0..=31 for every reachable state; a count outside
        // that range (undefined in C) is taken modulo 32, as x86 does.
        exp_value = mantissa.wrapping_shr(shift as u32);
    }
    (inv_std as i32 * exp_value, delta)
}
