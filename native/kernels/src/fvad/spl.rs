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

//! Fixed-point helpers of the WebRTC signal processing library: division,
//! normalisation shifts and the scaled energy of a block.

/// `WebRtcSpl_DivW32W16`: `num / den` truncated toward zero, `i32::MAX` when
/// `den` is 0 (`i32::MIN / -1` wraps, as it cannot occur in the detector).
#[inline]
pub(crate) fn div_w32_w16(num: i32, den: i16) -> i32 {
    if den == 0 {
        i32::MAX
    } else {
        num.wrapping_div(den as i32)
    }
}

/// `WebRtcSpl_NormW32`: left shifts that keep `a` inside i32 (0 for 0).
#[inline]
pub(crate) fn norm_w32(a: i32) -> i32 {
    if a == 0 {
        0
    } else {
        let v = if a < 0 { !a } else { a };
        v.leading_zeros() as i32 - 1
    }
}

/// `WebRtcSpl_NormU32`: leading zero bits of `a` (0 for 0).
#[inline]
pub(crate) fn norm_u32(a: u32) -> i32 {
    if a == 0 {
        0
    } else {
        a.leading_zeros() as i32
    }
}

/// `WebRtcSpl_Energy` with `WebRtcSpl_GetScalingSquare`: the sum of squares
/// of `x`, each right-shifted by a scaling chosen from the largest magnitude
/// and the length, and that scaling. The sum wraps as int32.
///
/// Upstream takes magnitudes as int16, so -32768 has "magnitude" -32768 and
/// never counts as the largest (the initial maximum is -1).
#[inline]
pub(crate) fn energy(x: &[i16]) -> (i32, i32) {
    let smax = x.iter().fold(-1i16, |m, &v| m.max(v.wrapping_abs()));
    let scaling = if smax == 0 {
        0
    } else {
        let nbits = 32 - (x.len() as u32).leading_zeros() as i32;
        let t = norm_w32((smax as i32).wrapping_mul(smax as i32));
        if t > nbits {
            0
        } else {
            nbits - t
        }
    };
    let en = x.iter().fold(0i32, |acc, &v| {
        let v = v as i32;
        acc.wrapping_add((v * v) >> scaling)
    });
    (en, scaling)
}
