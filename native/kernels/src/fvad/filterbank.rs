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

//! The six-band filter bank of the detector (`WebRtcVad_CalculateFeatures`):
//! a tree of all-pass half-band splits of the 8 kHz signal, a high-pass at
//! 80 Hz on the lowest band, and the log energy (Q4) of each band.

use super::spl::{energy, norm_u32};

/// 160 * log10(2) in Q9.
const LOG_CONST: i32 = 24660;
/// 14 in Q10.
const LOG_ENERGY_INT_PART: i16 = 14336;
/// High-pass zero and pole coefficients, Q14.
const HP_ZERO: [i32; 3] = [6631, -13262, 6631];
const HP_POLE: [i32; 3] = [16384, -7756, 5620];
/// All-pass coefficients of the split filter, upper and lower branch, Q15.
const SPLIT_COEFS_Q15: [i32; 2] = [20972, 5571];
/// Offsets added to the log energy of each band (Q4).
const OFFSETS: [i16; 6] = [368, 368, 272, 176, 176, 176];
/// Minimum total energy for the detector to look at a frame.
pub(crate) const MIN_ENERGY: i16 = 10;

/// Split-filter, high-pass and total-energy state of the filter bank.
#[derive(Clone, Default)]
pub(crate) struct FilterBank {
    upper: [i16; 5],
    lower: [i16; 5],
    hp: [i16; 4],
}

/// `SplitFilter`: `input` (even length) into a high band `hp` and a low band
/// `lp`, each `input.len() / 2` long. Each branch is one first-order
/// all-pass section whose state is kept as int16 between calls (Q(-1)).
#[inline]
fn split(input: &[i16], upper: &mut i16, lower: &mut i16, hp: &mut [i16], lp: &mut [i16]) {
    let (cu, cl) = (SPLIT_COEFS_Q15[0], SPLIT_COEFS_Q15[1]);
    let mut su = (*upper as i32) << 16;
    let mut sl = (*lower as i32) << 16;
    for ((h, l), pair) in hp.iter_mut().zip(lp.iter_mut()).zip(input.chunks_exact(2)) {
        let (a, b) = (pair[0] as i32, pair[1] as i32);
        let yu = (su.wrapping_add(cu * a) >> 16) as i16;
        su = ((a << 14) - cu * yu as i32).wrapping_mul(2);
        let yl = (sl.wrapping_add(cl * b) >> 16) as i16;
        sl = ((b << 14) - cl * yl as i32).wrapping_mul(2);
        *h = yu.wrapping_sub(yl);
        *l = yl.wrapping_add(yu);
    }
    *upper = (su >> 16) as i16;
    *lower = (sl >> 16) as i16;
}

/// `HighPassFilter`: cut-off 80 Hz at a 500 Hz sample rate, one output per
/// input; `state` is (x[n-1], x[n-2], y[n-1], y[n-2]).
#[inline]
fn high_pass(input: &[i16], state: &mut [i16; 4], out: &mut [i16]) {
    let [mut x1, mut x2, mut y1, mut y2] = state.map(|v| v as i32);
    for (o, &x) in out.iter_mut().zip(input) {
        let x = x as i32;
        let mut acc = HP_ZERO[0] * x + HP_ZERO[1] * x1 + HP_ZERO[2] * x2;
        acc = acc
            .wrapping_sub(HP_POLE[1] * y1)
            .wrapping_sub(HP_POLE[2] * y2);
        x2 = x1;
        x1 = x;
        y2 = y1;
        y1 = ((acc >> 14) as i16) as i32;
        *o = y1 as i16;
    }
    *state = [x1 as i16, x2 as i16, y1 as i16, y2 as i16];
}

/// `LogOfEnergy`: 10 * log10(energy of `x`) in Q4 plus `offset`; adds to
/// `total_energy` while it is at most [`MIN_ENERGY`].
#[inline]
fn log_of_energy(x: &[i16], offset: i16, total_energy: &mut i16) -> i16 {
    let (en, mut tot_rshifts) = energy(x);
    let mut energy = en as u32;
    if energy == 0 {
        return offset;
    }
    let normalizing_rshifts = 17 - norm_u32(energy);
    tot_rshifts += normalizing_rshifts;
    if normalizing_rshifts < 0 {
        energy <<= -normalizing_rshifts;
    } else {
        energy >>= normalizing_rshifts;
    }
    let log2_energy = LOG_ENERGY_INT_PART.wrapping_add(((energy & 0x3FFF) >> 4) as i16);
    let mut log_energy =
        (((LOG_CONST * log2_energy as i32) >> 19) + ((tot_rshifts * LOG_CONST) >> 9)) as i16;
    if log_energy < 0 {
        log_energy = 0;
    }
    log_energy = log_energy.wrapping_add(offset);
    if *total_energy <= MIN_ENERGY {
        if tot_rshifts >= 0 {
            *total_energy = total_energy.wrapping_add(MIN_ENERGY + 1);
        } else {
            *total_energy = total_energy.wrapping_add((energy >> -tot_rshifts) as i16);
        }
    }
    log_energy
}

impl FilterBank {
    /// The six band log energies (Q4, lowest band first) of an 8 kHz frame
    /// of 80, 160 or 240 samples, and the approximate total energy.
    pub(crate) fn features(&mut self, x: &[i16], features: &mut [i16; 6]) -> i16 {
        let mut total = 0i16;
        let n2 = x.len() / 2;
        let n4 = n2 / 2;
        let n8 = n4 / 2;
        let n16 = n8 / 2;
        let (mut hp_120, mut lp_120) = ([0i16; 120], [0i16; 120]);
        let (mut hp_60, mut lp_60) = ([0i16; 60], [0i16; 60]);
        let (up, lo) = (&mut self.upper, &mut self.lower);

        // 0-4 kHz into 2-4 kHz and 0-2 kHz.
        split(
            x,
            &mut up[0],
            &mut lo[0],
            &mut hp_120[..n2],
            &mut lp_120[..n2],
        );
        // 2-4 kHz into 3-4 kHz and 2-3 kHz.
        split(
            &hp_120[..n2],
            &mut up[1],
            &mut lo[1],
            &mut hp_60[..n4],
            &mut lp_60[..n4],
        );
        features[5] = log_of_energy(&hp_60[..n4], OFFSETS[5], &mut total);
        features[4] = log_of_energy(&lp_60[..n4], OFFSETS[4], &mut total);
        // 0-2 kHz into 1-2 kHz and 0-1 kHz.
        split(
            &lp_120[..n2],
            &mut up[2],
            &mut lo[2],
            &mut hp_60[..n4],
            &mut lp_60[..n4],
        );
        features[3] = log_of_energy(&hp_60[..n4], OFFSETS[3], &mut total);
        // 0-1 kHz into 0.5-1 kHz and 0-0.5 kHz.
        split(
            &lp_60[..n4],
            &mut up[3],
            &mut lo[3],
            &mut hp_120[..n8],
            &mut lp_120[..n8],
        );
        features[2] = log_of_energy(&hp_120[..n8], OFFSETS[2], &mut total);
        // 0-500 Hz into 250-500 Hz and 0-250 Hz.
        split(
            &lp_120[..n8],
            &mut up[4],
            &mut lo[4],
            &mut hp_60[..n16],
            &mut lp_60[..n16],
        );
        features[1] = log_of_energy(&hp_60[..n16], OFFSETS[1], &mut total);
        // 80-250 Hz.
        high_pass(&lp_60[..n16], &mut self.hp, &mut hp_120[..n16]);
        features[0] = log_of_energy(&hp_120[..n16], OFFSETS[0], &mut total);
        total
    }
}
