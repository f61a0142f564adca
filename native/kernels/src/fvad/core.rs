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

//! The detector's state and decision (`vad_core.c`, `WebRtcVad_FindMinimum`
//! of `vad_sp.c`): two Gaussians per band for noise and for speech, a
//! likelihood-ratio test per band and over all bands, the model update, the
//! long-term minimum tracker, and the hang-over smoothing.

use super::filterbank::{FilterBank, MIN_ENERGY};
use super::gmm::{inv_std, probability};
use super::spl::{div_w32_w16, norm_w32};

const CHANNELS: usize = 6;
const TABLE: usize = 12;

const SPECTRUM_WEIGHT: [i32; CHANNELS] = [6, 8, 10, 12, 14, 16];
const NOISE_UPDATE_CONST: i32 = 655; // Q15
const SPEECH_UPDATE_CONST: i32 = 6554; // Q15
const BACK_ETA: i32 = 154; // Q8
/// Minimum difference between the two models, Q5.
const MINIMUM_DIFFERENCE: [i16; CHANNELS] = [544, 544, 576, 576, 576, 576];
/// Upper limit of the speech model means, Q7.
const MAXIMUM_SPEECH: [i16; CHANNELS] = [11392, 11392, 11520, 11520, 11520, 11520];
/// Lower limit of the speech means, per Gaussian.
const MINIMUM_MEAN: [i16; 2] = [640, 768];
/// Upper limit of the noise model means, Q7.
const MAXIMUM_NOISE: [i16; CHANNELS] = [9216, 9088, 8960, 8832, 8704, 8576];
// Gaussian weights, means and deviations (Q7) at start, indexed
// `channel + gaussian * 6`.
const NOISE_WEIGHTS: [i16; TABLE] = [34, 62, 72, 66, 53, 25, 94, 66, 56, 62, 75, 103];
const SPEECH_WEIGHTS: [i16; TABLE] = [48, 82, 45, 87, 50, 47, 80, 46, 83, 41, 78, 81];
const NOISE_MEANS: [i16; TABLE] = [
    6738, 4892, 7065, 6715, 6771, 3369, 7646, 3863, 7820, 7266, 5020, 4362,
];
const SPEECH_MEANS: [i16; TABLE] = [
    8306, 10085, 10078, 11823, 11843, 6309, 9473, 9571, 10879, 7581, 8180, 7483,
];
const NOISE_STDS: [i16; TABLE] = [378, 1064, 493, 582, 688, 593, 474, 697, 475, 688, 421, 455];
const SPEECH_STDS: [i16; TABLE] = [
    555, 505, 567, 524, 585, 1231, 509, 828, 492, 1540, 1079, 850,
];
/// Maximum number of speech frames in a row that count.
const MAX_SPEECH_FRAMES: i16 = 6;
/// Minimum standard deviation of every Gaussian, Q7.
const MIN_STD: i16 = 384;
/// Minimum tracker smoothing: 0.2 and 0.99 in Q15.
const SMOOTHING_DOWN: i32 = 6553;
const SMOOTHING_UP: i32 = 32439;

/// Per mode (0..=3), per frame length (10, 20, 30 ms): hang-over lengths
/// after short and long speech runs, local and global thresholds.
const OVER_HANG_MAX_1: [[i16; 3]; 4] = [[8, 4, 3], [8, 4, 3], [6, 3, 2], [6, 3, 2]];
const OVER_HANG_MAX_2: [[i16; 3]; 4] = [[14, 7, 5], [14, 7, 5], [9, 5, 3], [9, 5, 3]];
const LOCAL_THRESHOLD: [[i16; 3]; 4] = [[24, 21, 24], [37, 32, 37], [82, 78, 82], [94, 94, 94]];
const GLOBAL_THRESHOLD: [[i16; 3]; 4] = [
    [57, 48, 57],
    [100, 80, 100],
    [285, 260, 285],
    [1100, 1050, 1100],
];

/// The adaptive state of the 8 kHz detector (upstream `VadInstT` without
/// the resampler states).
#[derive(Clone)]
pub(crate) struct Core {
    mode: usize,
    bank: FilterBank,
    noise_means: [i16; TABLE],
    speech_means: [i16; TABLE],
    noise_stds: [i16; TABLE],
    speech_stds: [i16; TABLE],
    /// `inv_std` of each deviation, kept in step with the deviations.
    noise_inv: [(i16, i16); TABLE],
    speech_inv: [(i16, i16); TABLE],
    frame_counter: i32,
    over_hang: i16,
    num_of_speech: i16,
    /// Per channel, the 16 smallest recent features (ascending) and their ages.
    low_value: [[i16; 16]; CHANNELS],
    age: [[i16; 16]; CHANNELS],
    mean_value: [i16; CHANNELS],
}

/// Sum over the two Gaussians of `data[g] * weights[g]` for one channel,
/// after adding `offset` to each mean (`WeightedAverage`).
#[inline]
fn weighted_average(
    data: &mut [i16; TABLE],
    ch: usize,
    offset: i16,
    weights: &[i16; TABLE],
) -> i32 {
    let mut acc = 0i32;
    for g in [ch, ch + CHANNELS] {
        data[g] = data[g].wrapping_add(offset);
        acc = acc.wrapping_add(data[g] as i32 * weights[g] as i32);
    }
    acc
}

impl Core {
    /// A fresh detector in `mode` (0..=3; the caller checks it).
    pub(crate) fn new(mode: usize) -> Self {
        Self {
            mode,
            bank: FilterBank::default(),
            noise_means: NOISE_MEANS,
            speech_means: SPEECH_MEANS,
            noise_stds: NOISE_STDS,
            speech_stds: SPEECH_STDS,
            noise_inv: NOISE_STDS.map(inv_std),
            speech_inv: SPEECH_STDS.map(inv_std),
            frame_counter: 0,
            over_hang: 0,
            num_of_speech: 0,
            low_value: [[10000; 16]; CHANNELS],
            age: [[0; 16]; CHANNELS],
            mean_value: [1600; CHANNELS],
        }
    }

    /// `WebRtcVad_CalcVad8khz`: the decision (0 = noise, >0 = speech) for
    /// 80, 160 or 240 samples at 8 kHz.
    pub(crate) fn process_8khz(&mut self, x: &[i16]) -> i16 {
        let mut features = [0i16; CHANNELS];
        let total_power = self.bank.features(x, &mut features);
        self.gmm_probability(&features, total_power, x.len())
    }

    /// `WebRtcVad_FindMinimum`: enters `feature` into the channel's 16
    /// smallest values of the last 100 frames and returns the smoothed
    /// median of the smallest ones (Q4).
    fn find_minimum(&mut self, feature: i16, ch: usize) -> i16 {
        let age = &mut self.age[ch];
        let values = &mut self.low_value[ch];

        // Every value gets one frame older; a value of age 100 is dropped and
        // the larger ones move down (as upstream, the value moved into slot i
        // is not aged in this frame).
        if age.contains(&100) {
            let mut i = 0;
            while i < 16 {
                if age[i] != 100 {
                    age[i] = age[i].wrapping_add(1);
                } else {
                    values.copy_within(i + 1.., i);
                    age.copy_within(i + 1.., i);
                    age[15] = 101;
                    values[15] = 10000;
                }
                i += 1;
            }
        } else {
            for a in age.iter_mut() {
                *a = a.wrapping_add(1);
            }
        }

        // Insertion position by the binary search upstream uses (exactly
        // its comparisons).
        let v = values;
        let f = feature;
        let position: Option<usize> = if f < v[7] {
            Some(if f < v[3] {
                if f < v[1] {
                    if f < v[0] {
                        0
                    } else {
                        1
                    }
                } else if f < v[2] {
                    2
                } else {
                    3
                }
            } else if f < v[5] {
                if f < v[4] {
                    4
                } else {
                    5
                }
            } else if f < v[6] {
                6
            } else {
                7
            })
        } else if f < v[15] {
            Some(if f < v[11] {
                if f < v[9] {
                    if f < v[8] {
                        8
                    } else {
                        9
                    }
                } else if f < v[10] {
                    10
                } else {
                    11
                }
            } else if f < v[13] {
                if f < v[12] {
                    12
                } else {
                    13
                }
            } else if f < v[14] {
                14
            } else {
                15
            })
        } else {
            None
        };
        if let Some(p) = position {
            v.copy_within(p..15, p + 1);
            age.copy_within(p..15, p + 1);
            v[p] = f;
            age[p] = 1;
        }

        let current_median = if self.frame_counter > 2 {
            v[2]
        } else if self.frame_counter > 0 {
            v[0]
        } else {
            1600
        };
        let mean = &mut self.mean_value[ch];
        let alpha = if self.frame_counter > 0 {
            if current_median < *mean {
                SMOOTHING_DOWN
            } else {
                SMOOTHING_UP
            }
        } else {
            0
        };
        let tmp = (alpha + 1) * *mean as i32 + (32767 - alpha) * current_median as i32 + 16384;
        *mean = (tmp >> 15) as i16;
        *mean
    }

    /// `GmmProbability`: the likelihood-ratio tests, the model update and
    /// the hang-over; returns 0 for noise, 1.. for speech.
    fn gmm_probability(&mut self, features: &[i16; CHANNELS], total_power: i16, len: usize) -> i16 {
        let col = match len {
            80 => 0,
            160 => 1,
            _ => 2,
        };
        let overhead1 = OVER_HANG_MAX_1[self.mode][col];
        let overhead2 = OVER_HANG_MAX_2[self.mode][col];
        let individual_test = LOCAL_THRESHOLD[self.mode][col] as i32;
        let total_test = GLOBAL_THRESHOLD[self.mode][col] as i32;
        let mut vadflag: i16 = 0;

        if total_power > MIN_ENERGY {
            let mut delta_n = [0i16; TABLE];
            let mut delta_s = [0i16; TABLE];
            let mut ngprvec = [0i16; TABLE];
            let mut sgprvec = [0i16; TABLE];
            let mut sum_llr = 0i32;

            for ch in 0..CHANNELS {
                let feature = features[ch];
                let mut h0_test = 0i32;
                let mut h1_test = 0i32;
                let mut noise_probability = [0i32; 2];
                let mut speech_probability = [0i32; 2];
                for k in 0..2 {
                    let g = ch + k * CHANNELS;
                    let (p, d) = probability(feature, self.noise_means[g], self.noise_inv[g]);
                    delta_n[g] = d;
                    noise_probability[k] = (NOISE_WEIGHTS[g] as i32).wrapping_mul(p);
                    h0_test = h0_test.wrapping_add(noise_probability[k]);
                    let (p, d) = probability(feature, self.speech_means[g], self.speech_inv[g]);
                    delta_s[g] = d;
                    speech_probability[k] = (SPEECH_WEIGHTS[g] as i32).wrapping_mul(p);
                    h1_test = h1_test.wrapping_add(speech_probability[k]);
                }

                // log2(Pr{X|H1} / Pr{X|H0}) ~= shifts_h0 - shifts_h1.
                let shifts_h0 = if h0_test == 0 { 31 } else { norm_w32(h0_test) };
                let shifts_h1 = if h1_test == 0 { 31 } else { norm_w32(h1_test) };
                let llr = shifts_h0 - shifts_h1;
                sum_llr = sum_llr.wrapping_add(llr * SPECTRUM_WEIGHT[ch]);
                if llr * 4 > individual_test {
                    vadflag = 1;
                }

                // Conditional probabilities of each Gaussian (Q14), for the
                // model update.
                let h0 = (h0_test >> 12) as i16;
                if h0 > 0 {
                    let t = (((noise_probability[0] as u32) & 0xFFFF_F000) << 2) as i32;
                    ngprvec[ch] = div_w32_w16(t, h0) as i16;
                    ngprvec[ch + CHANNELS] = 16384i16.wrapping_sub(ngprvec[ch]);
                } else {
                    ngprvec[ch] = 16384;
                }
                let h1 = (h1_test >> 12) as i16;
                if h1 > 0 {
                    let t = (((speech_probability[0] as u32) & 0xFFFF_F000) << 2) as i32;
                    sgprvec[ch] = div_w32_w16(t, h1) as i16;
                    sgprvec[ch + CHANNELS] = 16384i16.wrapping_sub(sgprvec[ch]);
                }
            }

            // Global decision.
            if sum_llr >= total_test {
                vadflag = 1;
            }

            // Model update.
            let mut maxspe: i16 = 12800;
            for ch in 0..CHANNELS {
                let feature = features[ch];
                // Long-term minimum, Q4.
                let feature_minimum = self.find_minimum(feature, ch);
                let noise_global_mean =
                    weighted_average(&mut self.noise_means, ch, 0, &NOISE_WEIGHTS);
                let ngm_q8 = (noise_global_mean >> 6) as i16;

                for (k, &min_mean) in MINIMUM_MEAN.iter().enumerate() {
                    let g = ch + k * CHANNELS;
                    let nmk = self.noise_means[g];
                    let smk = self.speech_means[g];
                    let mut nsk = self.noise_stds[g];
                    let mut ssk = self.speech_stds[g];

                    // Noise mean, moved toward the feature on noise frames.
                    let mut nmk2 = nmk;
                    if vadflag == 0 {
                        let delt = ((ngprvec[g] as i32 * delta_n[g] as i32) >> 11) as i16;
                        nmk2 = nmk.wrapping_add(((delt as i32 * NOISE_UPDATE_CONST) >> 22) as i16);
                    }
                    // Long-term correction toward the tracked minimum.
                    let ndelt = (((feature_minimum as i32) << 4) as i16).wrapping_sub(ngm_q8);
                    let mut nmk3 = nmk2.wrapping_add(((ndelt as i32 * BACK_ETA) >> 9) as i16);
                    let low = ((k as i32 + 5) << 7) as i16;
                    if nmk3 < low {
                        nmk3 = low;
                    }
                    let high = ((72 + k as i32 - ch as i32) << 7) as i16;
                    if nmk3 > high {
                        nmk3 = high;
                    }
                    self.noise_means[g] = nmk3;

                    if vadflag != 0 {
                        // Speech mean.
                        let delt = ((sgprvec[g] as i32 * delta_s[g] as i32) >> 11) as i16;
                        let t = ((delt as i32 * SPEECH_UPDATE_CONST) >> 21) as i16;
                        let mut smk2 = smk.wrapping_add(((t as i32 + 1) >> 1) as i16);
                        let maxmu = maxspe.wrapping_add(640);
                        if smk2 < min_mean {
                            smk2 = min_mean;
                        }
                        if smk2 > maxmu {
                            smk2 = maxmu;
                        }
                        self.speech_means[g] = smk2;

                        // Speech deviation.
                        let t = feature.wrapping_sub(((smk as i32 + 4) >> 3) as i16);
                        let t1 = ((delta_s[g] as i32 * t as i32) >> 3) - 4096;
                        let t2 = ((sgprvec[g] >> 2) as i32).wrapping_mul(t1) >> 4;
                        let den = (ssk as i32 * 10) as i16;
                        let mut q = if t2 > 0 {
                            div_w32_w16(t2, den) as i16
                        } else {
                            (div_w32_w16(t2.wrapping_neg(), den) as i16).wrapping_neg()
                        };
                        q = q.wrapping_add(128);
                        ssk = ssk.wrapping_add(q >> 8);
                        if ssk < MIN_STD {
                            ssk = MIN_STD;
                        }
                        if ssk != self.speech_stds[g] {
                            self.speech_stds[g] = ssk;
                            self.speech_inv[g] = inv_std(ssk);
                        }
                    } else {
                        // Noise deviation.
                        let t = feature.wrapping_sub(nmk >> 3);
                        let t1 = ((delta_n[g] as i32 * t as i32) >> 3) - 4096;
                        let w = ((ngprvec[g] as i32 + 2) >> 2) as i16;
                        let t2 = (w as i32).wrapping_mul(t1) >> 14;
                        let mut q = if t2 > 0 {
                            div_w32_w16(t2, nsk) as i16
                        } else {
                            (div_w32_w16(t2.wrapping_neg(), nsk) as i16).wrapping_neg()
                        };
                        q = q.wrapping_add(32);
                        nsk = nsk.wrapping_add(q >> 6);
                        if nsk < MIN_STD {
                            nsk = MIN_STD;
                        }
                        if nsk != self.noise_stds[g] {
                            self.noise_stds[g] = nsk;
                            self.noise_inv[g] = inv_std(nsk);
                        }
                    }
                }

                // Separate the models if they are too close.
                let mut noise_global_mean =
                    weighted_average(&mut self.noise_means, ch, 0, &NOISE_WEIGHTS);
                let mut speech_global_mean =
                    weighted_average(&mut self.speech_means, ch, 0, &SPEECH_WEIGHTS);
                let diff = ((speech_global_mean >> 9) as i16)
                    .wrapping_sub((noise_global_mean >> 9) as i16);
                if diff < MINIMUM_DIFFERENCE[ch] {
                    let t = MINIMUM_DIFFERENCE[ch].wrapping_sub(diff) as i32;
                    let up = ((13 * t) >> 2) as i16;
                    let down = ((3 * t) >> 2) as i16;
                    speech_global_mean =
                        weighted_average(&mut self.speech_means, ch, up, &SPEECH_WEIGHTS);
                    noise_global_mean = weighted_average(
                        &mut self.noise_means,
                        ch,
                        down.wrapping_neg(),
                        &NOISE_WEIGHTS,
                    );
                }

                // Keep the means below their upper limits.
                maxspe = MAXIMUM_SPEECH[ch];
                let t = (speech_global_mean >> 7) as i16;
                if t > maxspe {
                    let t = t - maxspe;
                    for g in [ch, ch + CHANNELS] {
                        self.speech_means[g] = self.speech_means[g].wrapping_sub(t);
                    }
                }
                let t = (noise_global_mean >> 7) as i16;
                if t > MAXIMUM_NOISE[ch] {
                    let t = t - MAXIMUM_NOISE[ch];
                    for g in [ch, ch + CHANNELS] {
                        self.noise_means[g] = self.noise_means[g].wrapping_sub(t);
                    }
                }
            }
            self.frame_counter = self.frame_counter.wrapping_add(1);
        }

        // Hang-over.
        if vadflag == 0 {
            if self.over_hang > 0 {
                vadflag = 2 + self.over_hang;
                self.over_hang -= 1;
            }
            self.num_of_speech = 0;
        } else {
            self.num_of_speech += 1;
            if self.num_of_speech > MAX_SPEECH_FRAMES {
                self.num_of_speech = MAX_SPEECH_FRAMES;
                self.over_hang = overhead2;
            } else {
                self.over_hang = overhead1;
            }
        }
        vadflag
    }
}
