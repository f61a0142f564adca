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

//! A pure-Rust, bit-exact port of the WebRTC voice activity detector as
//! packaged by libfvad: for the same sequence of frames, [`Fvad::process`]
//! gives the same decision as libfvad's `fvad_process` on every frame,
//! upstream quirks included (at 48 kHz, a 20 or 30 ms frame is decided on
//! its first 10 ms, resampled two or three times, because upstream's
//! resampling loop never advances its input).
//!
//! All fixed-point arithmetic wraps exactly as upstream's two's-complement
//! C does, so no input panics, in debug builds too. Frames are processed
//! without allocation (fixed-size buffers on the stack).

mod core;
mod filterbank;
mod gmm;
mod resample;
mod spl;

use crate::KernelError;

use self::core::Core;
use self::resample::{downsample_by_2, Resampler48To8};

/// The sample rates the detector takes, in Hz.
pub const SAMPLE_RATES: [i32; 4] = [8000, 16000, 32000, 48000];
/// The aggressiveness modes, 0 (least) to 3.
pub const MODES: [i32; 4] = [0, 1, 2, 3];
/// The frame durations the detector takes, in ms.
pub const FRAME_MS: [usize; 3] = [10, 20, 30];

/// One WebRTC VAD state: the equivalent of `fvad_new` followed by
/// `fvad_set_mode` and `fvad_set_sample_rate`.
#[derive(Clone)]
pub struct Fvad {
    mode: i32,
    sample_rate: i32,
    core: Core,
    /// The fresh core of this mode, copied back by `reset` (cheaper than building it again).
    fresh: Core,
    /// Half-band decimator states: [0..2] 16 -> 8 kHz, [2..4] 32 -> 16 kHz.
    down_states: [[i32; 2]; 2],
    resampler: Resampler48To8,
}

impl Fvad {
    /// `mode`: aggressiveness, 0 (least) to 3; `sample_rate`: 8000, 16000,
    /// 32000 or 48000 Hz.
    pub fn new(mode: i32, sample_rate: i32) -> Result<Self, KernelError> {
        if !SAMPLE_RATES.contains(&sample_rate) {
            return Err(KernelError::invalid(
                "sample_rate",
                "8000, 16000, 32000 or 48000",
                sample_rate,
            ));
        }
        if !MODES.contains(&mode) {
            return Err(KernelError::invalid("mode", "0, 1, 2 or 3", mode));
        }
        Ok(Self {
            mode,
            sample_rate,
            core: Core::new(mode as usize),
            fresh: Core::new(mode as usize),
            down_states: [[0; 2]; 2],
            resampler: Resampler48To8::default(),
        })
    }

    pub fn mode(&self) -> i32 {
        self.mode
    }

    pub fn sample_rate(&self) -> i32 {
        self.sample_rate
    }

    /// The frame lengths this detector takes, in samples (10, 20 and 30 ms).
    pub fn frame_lengths(&self) -> [usize; 3] {
        let per_ms = self.sample_rate as usize / 1000;
        FRAME_MS.map(|ms| ms * per_ms)
    }

    /// Back to a fresh state, keeping mode and sample rate (unlike
    /// `fvad_reset`, which also restores the defaults of both).
    pub fn reset(&mut self) {
        self.core.clone_from(&self.fresh);
        self.down_states = [[0; 2]; 2];
        self.resampler = Resampler48To8::default();
    }

    /// The decision for one frame of 10, 20 or 30 ms (`true` = speech),
    /// updating the state; an error (and no state change) for any other
    /// length.
    pub fn process(&mut self, frame: &[i16]) -> Result<bool, KernelError> {
        let n = frame.len();
        if !self.frame_lengths().contains(&n) {
            return Err(KernelError::invalid(
                "frame",
                format!(
                    "{:?} samples at {} Hz",
                    self.frame_lengths(),
                    self.sample_rate
                ),
                n,
            ));
        }
        let mut nb = [0i16; 240];
        let nb = match self.sample_rate {
            8000 => frame,
            16000 => {
                let out = &mut nb[..n / 2];
                downsample_by_2(frame, out, &mut self.down_states[0]);
                &*out
            }
            32000 => {
                let mut wb = [0i16; 480];
                let wb = &mut wb[..n / 2];
                downsample_by_2(frame, wb, &mut self.down_states[1]);
                let out = &mut nb[..n / 4];
                downsample_by_2(wb, out, &mut self.down_states[0]);
                &*out
            }
            _ => {
                // Upstream resamples the first 10 ms once per 10 ms of frame.
                let Some(first) = frame.first_chunk::<480>() else {
                    return Err(KernelError::internal("48 kHz frame shorter than 10 ms"));
                };
                let out = &mut nb[..n / 6];
                for block in out.chunks_exact_mut(80) {
                    self.resampler.process(first, block);
                }
                &*out
            }
        };
        Ok(self.core.process_8khz(nb) > 0)
    }
}
