# This module reimplements the WebRTC voice activity detector (the GMM VAD
# from the WebRTC project, as packaged by libfvad and py-webrtcvad /
# webrtcvad-wheels) in pure Python + numpy.  It is an independent port of the
# fixed-point algorithm: it mirrors the C integer semantics (int16/int32
# wrap-around, saturation, arithmetic shifts, truncating division) so that it
# makes bit-identical decisions, frame by frame, to the C implementation.
#
# The algorithm, its constants and tables come from the WebRTC project, which
# is distributed under the following license:
#
# Copyright (c) 2011, The WebRTC project authors. All rights reserved.
#
# Redistribution and use in source and binary forms, with or without
# modification, are permitted provided that the following conditions are
# met:
#
#   * Redistributions of source code must retain the above copyright
#     notice, this list of conditions and the following disclaimer.
#
#   * Redistributions in binary form must reproduce the above copyright
#     notice, this list of conditions and the following disclaimer in
#     the documentation and/or other materials provided with the
#     distribution.
#
#   * Neither the name of Google nor the names of its contributors may
#     be used to endorse or promote products derived from this software
#     without specific prior written permission.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
# "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
# LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
# A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
# HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
# SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
# LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
# DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
# THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
# (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
# OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""The detector's state and decision (``vad_core.c``, ``WebRtcVad_FindMinimum``
of ``vad_sp.c``; ``core.rs`` and ``mod.rs`` in the Rust port): two Gaussians
per band for noise and for speech, a likelihood-ratio test per band and over
all bands, the model update, the long-term minimum tracker, the hang-over
smoothing, and :class:`FvadPy`, the detector itself.
"""

from __future__ import annotations

import numpy as np

from remotemedia.kernels._webrtc_vad_py.filterbank import MIN_ENERGY, NUM_CHANNELS, calculate_features
from remotemedia.kernels._webrtc_vad_py.gmm import gaussian_probability
from remotemedia.kernels._webrtc_vad_py.resample import Resampler48To8, downsampling
from remotemedia.kernels._webrtc_vad_py.spl import div_w32_w16, norm_w32, w16, w32

#: Sample rates (Hz) accepted by :class:`FvadPy`.
VALID_RATES = (8000, 16000, 32000, 48000)

_VALID_MODES = (0, 1, 2, 3)
_FRAME_MS = (10, 20, 30)

_NUM_GAUSSIANS = 2
_TABLE_SIZE = NUM_CHANNELS * _NUM_GAUSSIANS

_SPECTRUM_WEIGHT = (6, 8, 10, 12, 14, 16)
_NOISE_UPDATE_CONST = 655  # Q15
_SPEECH_UPDATE_CONST = 6554  # Q15
_BACK_ETA = 154  # Q8
_MINIMUM_DIFFERENCE = (544, 544, 576, 576, 576, 576)  # Q5
_MAXIMUM_SPEECH = (11392, 11392, 11520, 11520, 11520, 11520)  # Q7
_MINIMUM_MEAN = (640, 768)
_MAXIMUM_NOISE = (9216, 9088, 8960, 8832, 8704, 8576)  # Q7
_NOISE_DATA_WEIGHTS = (34, 62, 72, 66, 53, 25, 94, 66, 56, 62, 75, 103)
_SPEECH_DATA_WEIGHTS = (48, 82, 45, 87, 50, 47, 80, 46, 83, 41, 78, 81)
_NOISE_DATA_MEANS = (6738, 4892, 7065, 6715, 6771, 3369, 7646, 3863, 7820, 7266, 5020, 4362)
_SPEECH_DATA_MEANS = (8306, 10085, 10078, 11823, 11843, 6309, 9473, 9571, 10879, 7581, 8180, 7483)
_NOISE_DATA_STDS = (378, 1064, 493, 582, 688, 593, 474, 697, 475, 688, 421, 455)
_SPEECH_DATA_STDS = (555, 505, 567, 524, 585, 1231, 509, 828, 492, 1540, 1079, 850)
_MAX_SPEECH_FRAMES = 6
_MIN_STD = 384

# Per mode: (over_hang_max_1, over_hang_max_2, individual, total), each
# indexed by frame length 10/20/30 ms.
_MODE_TABLES = {
    0: ((8, 4, 3), (14, 7, 5), (24, 21, 24), (57, 48, 57)),
    1: ((8, 4, 3), (14, 7, 5), (37, 32, 37), (100, 80, 100)),
    2: ((6, 3, 2), (9, 5, 3), (82, 78, 82), (285, 260, 285)),
    3: ((6, 3, 2), (9, 5, 3), (94, 94, 94), (1100, 1050, 1100)),
}

# vad_sp.c
_SMOOTHING_DOWN = 6553  # 0.2 in Q15
_SMOOTHING_UP = 32439  # 0.99 in Q15


class FvadPy:
    """Bit-exact pure-Python WebRTC VAD (libfvad / py-webrtcvad semantics).

    Each instance holds the full adaptive state of one detector, equivalent
    to ``fvad_new()`` followed by ``fvad_set_mode`` and
    ``fvad_set_sample_rate``.

    Args:
        mode: Aggressiveness, an int in 0..3 (0 = quality, 3 = very
            aggressive).
        sample_rate: Sample rate of the frames in Hz, one of
            :data:`VALID_RATES` (8000, 16000, 32000, 48000).

    Raises:
        ValueError: If ``mode`` or ``sample_rate`` is not valid.
    """

    def __init__(self, mode: int = 0, sample_rate: int = 8000) -> None:
        if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or int(mode) not in _VALID_MODES:
            raise ValueError(f"mode must be one of {_VALID_MODES}, got {mode!r}")
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, (int, np.integer))
            or int(sample_rate) not in VALID_RATES
        ):
            raise ValueError(f"sample_rate must be one of {VALID_RATES} Hz, got {sample_rate!r}")
        self._mode = int(mode)
        self._rate = int(sample_rate)
        (self._oh1, self._oh2, self._individual, self._total) = _MODE_TABLES[self._mode]
        self._frame_lengths = tuple(self._rate // 1000 * ms for ms in _FRAME_MS)
        self.reset()

    # ------------------------------------------------------------------
    @property
    def mode(self) -> int:
        """int: Aggressiveness mode, 0..3 (read-only)."""
        return self._mode

    @property
    def sample_rate(self) -> int:
        """int: Sample rate in Hz of the frames this instance accepts."""
        return self._rate

    def reset(self) -> None:
        """Return to the freshly created state, keeping mode and sample rate.

        Equivalent to ``fvad_reset`` followed by restoring the mode and rate.
        """
        self._frame_counter = 0
        self._over_hang = 0
        self._num_of_speech = 0
        self._ds_states = [0, 0, 0, 0]  # int32 downsampling filter states
        self._resampler = Resampler48To8()
        self._noise_means = list(_NOISE_DATA_MEANS)
        self._speech_means = list(_SPEECH_DATA_MEANS)
        self._noise_stds = list(_NOISE_DATA_STDS)
        self._speech_stds = list(_SPEECH_DATA_STDS)
        self._low_value = [10000] * (16 * NUM_CHANNELS)
        self._index = [0] * (16 * NUM_CHANNELS)
        self._upper_state = [0] * 5
        self._lower_state = [0] * 5
        self._hp_state = [0] * 4
        self._mean_value = [1600] * NUM_CHANNELS

    # ------------------------------------------------------------------
    def _check_frame(self, frame: np.ndarray, ndim: int, name: str) -> None:
        if not isinstance(frame, np.ndarray):
            raise ValueError(f"{name} must be a numpy.ndarray of dtype int16, got {type(frame).__name__}")
        if frame.dtype != np.int16:
            raise ValueError(f"{name} must have dtype int16, got dtype {frame.dtype}")
        if frame.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, got {frame.ndim}-D array of shape {frame.shape}")
        n = frame.shape[-1]
        if n not in self._frame_lengths:
            raise ValueError(
                f"frame length must be one of {self._frame_lengths} samples (10/20/30 ms at {self._rate} Hz), got {n}"
            )

    def process(self, frame: np.ndarray) -> bool:
        """Classify one frame and update the detector state.

        Args:
            frame: 1-D ``numpy.int16`` array of PCM samples at
                :attr:`sample_rate`, of length 10, 20 or 30 ms (e.g. 160,
                320 or 480 samples at 16 kHz).

        Returns:
            bool: True if the frame is classified as speech (active voice).

        Raises:
            ValueError: If ``frame`` is not a 1-D int16 array of a valid
                length.
        """
        self._check_frame(frame, 1, "frame")
        return self._process(frame) > 0

    def process_frames(self, frames: np.ndarray) -> np.ndarray:
        """Classify consecutive frames, in order, as repeated :meth:`process`.

        Args:
            frames: 2-D ``numpy.int16`` array of shape ``(n_frames,
                frame_len)``, where ``frame_len`` is 10, 20 or 30 ms of
                samples at :attr:`sample_rate`.

        Returns:
            numpy.ndarray: 1-D ``uint8`` array of shape ``(n_frames,)`` with
            1 for speech and 0 for non-speech.

        Raises:
            ValueError: If ``frames`` is not a 2-D int16 array with a valid
                frame length.
        """
        self._check_frame(frames, 2, "frames")
        out = np.zeros(frames.shape[0], dtype=np.uint8)
        for i in range(frames.shape[0]):
            out[i] = 1 if self._process(frames[i]) > 0 else 0
        return out

    # ------------------------------------------------------------------
    def _process(self, frame: np.ndarray) -> int:
        rate = self._rate
        n = frame.shape[0]
        if rate == 8000:
            nb = frame.tolist()
        elif rate == 16000:
            nb = downsampling(frame, self._ds_states, 0).tolist()
        elif rate == 32000:
            wb = downsampling(frame, self._ds_states, 2)
            nb = downsampling(wb, self._ds_states, 0).tolist()
        else:
            # Upstream WebRtcVad_CalcVad48khz resamples the *same* first
            # 10 ms of the frame once per 10 ms block: replicate that.
            first = frame[:480].tolist()
            nb = []
            for _ in range(n // 480):
                nb.extend(self._resampler.process(first))
        return self._calc_vad_8khz(nb)

    def _calc_vad_8khz(self, xs: list) -> int:
        features, total_power = calculate_features(xs, self._upper_state, self._lower_state, self._hp_state)
        return self._gmm_probability(features, total_power, len(xs))

    def _find_minimum(self, feature_value: int, channel: int) -> int:
        """WebRtcVad_FindMinimum: long-term minimum tracking (Q4)."""
        off = channel << 4
        age = self._index
        sv = self._low_value
        # Age the 16 smallest values; drop those that reached age 100. The
        # element moved into slot i is (as upstream) not aged this round.
        i = 0
        while i < 16:
            if age[off + i] != 100:
                age[off + i] += 1
            else:
                for j in range(i, 15):
                    sv[off + j] = sv[off + j + 1]
                    age[off + j] = age[off + j + 1]
                age[off + 15] = 101
                sv[off + 15] = 10000
            i += 1
        # Binary search (as upstream) for the insertion position of
        # feature_value in the sorted list, -1 if not smaller than the last.
        v = sv[off : off + 16]
        f = feature_value
        if f < v[7]:
            if f < v[3]:
                if f < v[1]:
                    position = 0 if f < v[0] else 1
                else:
                    position = 2 if f < v[2] else 3
            elif f < v[5]:
                position = 4 if f < v[4] else 5
            else:
                position = 6 if f < v[6] else 7
        elif f < v[15]:
            if f < v[11]:
                if f < v[9]:
                    position = 8 if f < v[8] else 9
                else:
                    position = 10 if f < v[10] else 11
            elif f < v[13]:
                position = 12 if f < v[12] else 13
            else:
                position = 14 if f < v[14] else 15
        else:
            position = -1
        if position > -1:
            for k in range(15, position, -1):
                sv[off + k] = sv[off + k - 1]
                age[off + k] = age[off + k - 1]
            sv[off + position] = feature_value
            age[off + position] = 1
        if self._frame_counter > 2:
            current_median = sv[off + 2]
        elif self._frame_counter > 0:
            current_median = sv[off + 0]
        else:
            current_median = 1600
        mv = self._mean_value[channel]
        alpha = 0
        if self._frame_counter > 0:
            alpha = _SMOOTHING_DOWN if current_median < mv else _SMOOTHING_UP
        tmp32 = w32((alpha + 1) * mv + (32767 - alpha) * current_median + 16384)
        mv = w16(tmp32 >> 15)
        self._mean_value[channel] = mv
        return mv

    def _gmm_probability(self, features: list, total_power: int, frame_length: int) -> int:
        """GmmProbability: VAD decision and model update.

        All int16 stores are wrapped inline as ``((v + 0x8000) & 0xFFFF) -
        0x8000`` (C's conversion to int16_t), int32 ones with :func:`w32`.
        """
        idx = 0 if frame_length == 80 else (1 if frame_length == 160 else 2)
        overhead1 = self._oh1[idx]
        overhead2 = self._oh2[idx]
        individual_test = self._individual[idx]
        total_test = self._total[idx]
        vadflag = 0

        if total_power > MIN_ENERGY:
            nm = self._noise_means
            sm = self._speech_means
            ns = self._noise_stds
            ss = self._speech_stds
            nw = _NOISE_DATA_WEIGHTS
            sw = _SPEECH_DATA_WEIGHTS
            gp = gaussian_probability
            delta_n = [0] * _TABLE_SIZE
            delta_s = [0] * _TABLE_SIZE
            ngprvec = [0] * _TABLE_SIZE
            sgprvec = [0] * _TABLE_SIZE
            sum_llr = 0
            for ch in range(NUM_CHANNELS):
                feat = features[ch]
                g1 = ch + NUM_CHANNELS
                # Probabilities under H0 (noise) and H1 (speech), Q27.
                p, delta_n[ch] = gp(feat, nm[ch], ns[ch])
                np0 = w32(nw[ch] * p)
                p, delta_s[ch] = gp(feat, sm[ch], ss[ch])
                sp0 = w32(sw[ch] * p)
                p, delta_n[g1] = gp(feat, nm[g1], ns[g1])
                h0_test = w32(np0 + nw[g1] * p)
                p, delta_s[g1] = gp(feat, sm[g1], ss[g1])
                h1_test = w32(sp0 + sw[g1] * p)
                # log2 likelihood ratio approximated by the norm difference.
                shifts_h0 = 31 if h0_test == 0 else norm_w32(h0_test)
                shifts_h1 = 31 if h1_test == 0 else norm_w32(h1_test)
                llr = shifts_h0 - shifts_h1
                sum_llr += llr * _SPECTRUM_WEIGHT[ch]
                if (llr << 2) > individual_test:
                    vadflag = 1
                h0 = (((h0_test >> 12) + 0x8000) & 0xFFFF) - 0x8000
                if h0 > 0:
                    t = w32((np0 & 0xFFFFF000) << 2)
                    v = ((div_w32_w16(t, h0) + 0x8000) & 0xFFFF) - 0x8000
                    ngprvec[ch] = v
                    ngprvec[g1] = ((16384 - v + 0x8000) & 0xFFFF) - 0x8000
                else:
                    ngprvec[ch] = 16384
                h1 = (((h1_test >> 12) + 0x8000) & 0xFFFF) - 0x8000
                if h1 > 0:
                    t = w32((sp0 & 0xFFFFF000) << 2)
                    v = ((div_w32_w16(t, h1) + 0x8000) & 0xFFFF) - 0x8000
                    sgprvec[ch] = v
                    sgprvec[g1] = ((16384 - v + 0x8000) & 0xFFFF) - 0x8000

            if sum_llr >= total_test:
                vadflag = 1

            maxspe = 12800
            for ch in range(NUM_CHANNELS):
                feat = features[ch]
                g1 = ch + NUM_CHANNELS
                feature_minimum = self._find_minimum(feat, ch)
                noise_global_mean = nm[ch] * nw[ch] + nm[g1] * nw[g1]
                tmp1_s16 = (((noise_global_mean >> 6) + 0x8000) & 0xFFFF) - 0x8000
                # ndelt = (feature_minimum << 4) - tmp1_s16, as int16; the
                # same for both Gaussians.
                ndelt = (((feature_minimum << 4) - tmp1_s16 + 0x8000) & 0xFFFF) - 0x8000
                back = ((((ndelt * _BACK_ETA) >> 9) + 0x8000) & 0xFFFF) - 0x8000
                for k, g in ((0, ch), (1, g1)):
                    nmk = nm[g]
                    # Noise mean update if the frame is noise only.
                    nmk2 = nmk
                    if not vadflag:
                        delt = ((((ngprvec[g] * delta_n[g]) >> 11) + 0x8000) & 0xFFFF) - 0x8000
                        upd = ((((delt * _NOISE_UPDATE_CONST) >> 22) + 0x8000) & 0xFFFF) - 0x8000
                        nmk2 = ((nmk + upd + 0x8000) & 0xFFFF) - 0x8000
                    # Long term correction of the noise mean.
                    nmk3 = ((nmk2 + back + 0x8000) & 0xFFFF) - 0x8000
                    lim = (k + 5) << 7
                    if nmk3 < lim:
                        nmk3 = lim
                    lim = (72 + k - ch) << 7
                    if nmk3 > lim:
                        nmk3 = lim
                    nm[g] = nmk3

                    if vadflag:
                        # Speech mean update.
                        smk = sm[g]
                        delt = ((((sgprvec[g] * delta_s[g]) >> 11) + 0x8000) & 0xFFFF) - 0x8000
                        tmp_s16 = ((((delt * _SPEECH_UPDATE_CONST) >> 21) + 0x8000) & 0xFFFF) - 0x8000
                        smk2 = ((smk + ((tmp_s16 + 1) >> 1) + 0x8000) & 0xFFFF) - 0x8000
                        maxmu = maxspe + 640
                        if smk2 < _MINIMUM_MEAN[k]:
                            smk2 = _MINIMUM_MEAN[k]
                        if smk2 > maxmu:
                            smk2 = maxmu
                        sm[g] = smk2
                        # Speech std update.
                        tmp_s16 = ((feat - ((smk + 4) >> 3) + 0x8000) & 0xFFFF) - 0x8000
                        tmp2_s32 = ((delta_s[g] * tmp_s16) >> 3) - 4096
                        tmp2_s32 = w32((sgprvec[g] >> 2) * tmp2_s32) >> 4
                        ssk = ss[g]
                        den = ((ssk * 10 + 0x8000) & 0xFFFF) - 0x8000
                        if tmp2_s32 > 0:
                            q = div_w32_w16(tmp2_s32, den)
                            tmp_s16 = ((q + 0x8000) & 0xFFFF) - 0x8000
                        else:
                            q = div_w32_w16(w32(-tmp2_s32), den)
                            tmp_s16 = ((q + 0x8000) & 0xFFFF) - 0x8000
                            tmp_s16 = ((0x8000 - tmp_s16) & 0xFFFF) - 0x8000
                        tmp_s16 = ((tmp_s16 + 128 + 0x8000) & 0xFFFF) - 0x8000
                        ssk = ((ssk + (tmp_s16 >> 8) + 0x8000) & 0xFFFF) - 0x8000
                        if ssk < _MIN_STD:
                            ssk = _MIN_STD
                        ss[g] = ssk
                    else:
                        # Noise std update.
                        tmp_s16 = ((feat - (nmk >> 3) + 0x8000) & 0xFFFF) - 0x8000
                        tmp1_s32 = ((delta_n[g] * tmp_s16) >> 3) - 4096
                        tmp_s16 = ((((ngprvec[g] + 2) >> 2) + 0x8000) & 0xFFFF) - 0x8000
                        tmp1_s32 = w32(tmp_s16 * tmp1_s32) >> 14
                        nsk = ns[g]
                        if tmp1_s32 > 0:
                            q = div_w32_w16(tmp1_s32, nsk)
                            tmp_s16 = ((q + 0x8000) & 0xFFFF) - 0x8000
                        else:
                            q = div_w32_w16(w32(-tmp1_s32), nsk)
                            tmp_s16 = ((q + 0x8000) & 0xFFFF) - 0x8000
                            tmp_s16 = ((0x8000 - tmp_s16) & 0xFFFF) - 0x8000
                        tmp_s16 = ((tmp_s16 + 32 + 0x8000) & 0xFFFF) - 0x8000
                        nsk = ((nsk + (tmp_s16 >> 6) + 0x8000) & 0xFFFF) - 0x8000
                        if nsk < _MIN_STD:
                            nsk = _MIN_STD
                        ns[g] = nsk

                # Separate the models if they are too close.
                noise_global_mean = nm[ch] * nw[ch] + nm[g1] * nw[g1]
                speech_global_mean = sm[ch] * sw[ch] + sm[g1] * sw[g1]
                diff = (
                    (((speech_global_mean >> 9) + 0x8000) & 0xFFFF)
                    - (((noise_global_mean >> 9) + 0x8000) & 0xFFFF)
                    + 0x8000
                    & 0xFFFF
                ) - 0x8000
                if diff < _MINIMUM_DIFFERENCE[ch]:
                    tmp_s16 = ((_MINIMUM_DIFFERENCE[ch] - diff + 0x8000) & 0xFFFF) - 0x8000
                    # ~0.8 and ~0.2 of the missing difference, Q7.
                    tmp1_s16 = ((((13 * tmp_s16) >> 2) + 0x8000) & 0xFFFF) - 0x8000
                    tmp2_s16 = ((((3 * tmp_s16) >> 2) + 0x8000) & 0xFFFF) - 0x8000
                    sm[ch] = ((sm[ch] + tmp1_s16 + 0x8000) & 0xFFFF) - 0x8000
                    sm[g1] = ((sm[g1] + tmp1_s16 + 0x8000) & 0xFFFF) - 0x8000
                    speech_global_mean = sm[ch] * sw[ch] + sm[g1] * sw[g1]
                    # The offset parameter is int16: (int16)(-tmp2_s16).
                    off = ((0x8000 - tmp2_s16) & 0xFFFF) - 0x8000
                    nm[ch] = ((nm[ch] + off + 0x8000) & 0xFFFF) - 0x8000
                    nm[g1] = ((nm[g1] + off + 0x8000) & 0xFFFF) - 0x8000
                    noise_global_mean = nm[ch] * nw[ch] + nm[g1] * nw[g1]

                # Keep the speech & noise means from drifting too much.
                maxspe = _MAXIMUM_SPEECH[ch]
                tmp2_s16 = (((speech_global_mean >> 7) + 0x8000) & 0xFFFF) - 0x8000
                if tmp2_s16 > maxspe:
                    tmp2_s16 -= maxspe  # stays positive and < 2**15
                    sm[ch] = ((sm[ch] - tmp2_s16 + 0x8000) & 0xFFFF) - 0x8000
                    sm[g1] = ((sm[g1] - tmp2_s16 + 0x8000) & 0xFFFF) - 0x8000
                tmp2_s16 = (((noise_global_mean >> 7) + 0x8000) & 0xFFFF) - 0x8000
                if tmp2_s16 > _MAXIMUM_NOISE[ch]:
                    tmp2_s16 -= _MAXIMUM_NOISE[ch]
                    nm[ch] = ((nm[ch] - tmp2_s16 + 0x8000) & 0xFFFF) - 0x8000
                    nm[g1] = ((nm[g1] - tmp2_s16 + 0x8000) & 0xFFFF) - 0x8000
            self._frame_counter += 1

        # Hang-over smoothing.
        if not vadflag:
            if self._over_hang > 0:
                vadflag = 2 + self._over_hang
                self._over_hang -= 1
            self._num_of_speech = 0
        else:
            self._num_of_speech += 1
            if self._num_of_speech > _MAX_SPEECH_FRAMES:
                self._num_of_speech = _MAX_SPEECH_FRAMES
                self._over_hang = overhead2
            else:
                self._over_hang = overhead1
        return vadflag
