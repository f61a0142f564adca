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
"""The six-band filter bank of the detector (``WebRtcVad_CalculateFeatures``;
``filterbank.rs`` in the Rust port): a tree of all-pass half-band splits of
the 8 kHz signal, a high-pass at 80 Hz on the lowest band, and the log energy
(Q4) of each band.
"""

from __future__ import annotations

from remotemedia.kernels._webrtc_vad_py.spl import block_energy, norm_u32, w16

NUM_CHANNELS = 6
MIN_ENERGY = 10

# vad_filterbank.c
_LOG_CONST = 24660  # 160*log10(2) in Q9
_LOG_ENERGY_INT_PART = 14336  # 14 in Q10
_HP_ZERO_COEFS = (6631, -13262, 6631)
_HP_POLE_COEFS = (16384, -7756, 5620)
_ALL_PASS_COEFS_Q15 = (20972, 5571)
_OFFSET_VECTOR = (368, 368, 272, 176, 176, 176)


# --------------------------------------------------------------------------
# vad_filterbank.c
# --------------------------------------------------------------------------


def _all_pass_filter(xs: list, c: int, state: int) -> tuple:
    """AllPassFilter on the int16 samples ``xs`` (already decimated).

    Returns (outputs, new int16 state).  ``tmp32 >> 16`` of the int32 sum is
    the int16 wrap of the unbounded sum's shift, so only outputs outside the
    int16 range need wrapping; the fast loop is redone with wrapping if any
    occurred.
    """
    c2 = c << 1
    st32 = state << 16
    out = []
    append = out.append
    for x in xs:
        y = (st32 + c * x) >> 16
        append(y)
        st32 = (x << 15) - c2 * y
    if out and (min(out) < -32768 or max(out) > 32767):
        st32 = state << 16
        out = []
        append = out.append
        for x in xs:
            y = (((st32 + c * x) >> 16) + 0x8000 & 0xFFFF) - 0x8000
            append(y)
            st32 = (x << 15) - c2 * y
    return out, w16(st32 >> 16)


def _split_filter(xs: list, up: list, lo: list, band: int) -> tuple:
    """SplitFilter: returns (hp, lp) int16 lists of half length."""
    half = len(xs) >> 1
    hp, up[band] = _all_pass_filter(xs[0 : 2 * half : 2], _ALL_PASS_COEFS_Q15[0], up[band])
    lp, lo[band] = _all_pass_filter(xs[1 : 2 * half : 2], _ALL_PASS_COEFS_Q15[1], lo[band])
    h = [a - b for a, b in zip(hp, lp)]
    l_ = [a + b for a, b in zip(hp, lp)]
    if min(h) < -32768 or max(h) > 32767:
        h = [w16(v) for v in h]
    if min(l_) < -32768 or max(l_) > 32767:
        l_ = [w16(v) for v in l_]
    return h, l_


def _high_pass_filter(xs: list, fs: list) -> list:
    """HighPassFilter (2nd order, ~80 Hz at 500 Hz sample rate)."""
    z0, z1, z2 = _HP_ZERO_COEFS
    _, p1, p2 = _HP_POLE_COEFS
    f0, f1, f2, f3 = fs
    out = []
    for x in xs:
        t = z0 * x + z1 * f0 + z2 * f1
        f1 = f0
        f0 = x
        t -= p1 * f2 + p2 * f3
        f3 = f2
        f2 = (((t >> 14) + 0x8000) & 0xFFFF) - 0x8000
        out.append(f2)
    fs[0], fs[1], fs[2], fs[3] = f0, f1, f2, f3
    return out



def _log_of_energy(xs: list, offset: int, total_energy: int) -> tuple:
    """LogOfEnergy: returns (log_energy Q4, updated total_energy)."""
    energy, tot_rshifts = block_energy(xs)
    energy &= 0xFFFFFFFF  # (uint32_t)
    if energy == 0:
        return offset, total_energy
    normalizing_rshifts = 17 - norm_u32(energy)
    tot_rshifts += normalizing_rshifts
    if normalizing_rshifts < 0:
        energy = (energy << -normalizing_rshifts) & 0xFFFFFFFF
    else:
        energy >>= normalizing_rshifts
    log2_energy = _LOG_ENERGY_INT_PART + ((energy & 0x3FFF) >> 4)
    log_energy = w16(((_LOG_CONST * log2_energy) >> 19) + ((w16(tot_rshifts) * _LOG_CONST) >> 9))
    if log_energy < 0:
        log_energy = 0
    log_energy = w16(log_energy + offset)
    if total_energy <= MIN_ENERGY:
        if tot_rshifts >= 0:
            total_energy = w16(total_energy + MIN_ENERGY + 1)
        else:
            total_energy = w16(total_energy + w16(energy >> -tot_rshifts))
    return log_energy, total_energy



def calculate_features(xs: list, up: list, lo: list, hp_state: list) -> tuple:
    """WebRtcVad_CalculateFeatures: (6 log energies Q4, total energy).

    ``up``/``lo`` are the split filters' int16 states (5 each) and ``hp_state``
    the high-pass filter's 4 values, all updated in place.
    """
    features = [0] * NUM_CHANNELS
    total = 0
    hp_120, lp_120 = _split_filter(xs, up, lo, 0)  # 2-4 kHz, 0-2 kHz
    hp_60, lp_60 = _split_filter(hp_120, up, lo, 1)  # 3-4 kHz, 2-3 kHz
    features[5], total = _log_of_energy(hp_60, _OFFSET_VECTOR[5], total)
    features[4], total = _log_of_energy(lp_60, _OFFSET_VECTOR[4], total)
    hp_60, lp_60 = _split_filter(lp_120, up, lo, 2)  # 1-2 kHz, 0-1 kHz
    features[3], total = _log_of_energy(hp_60, _OFFSET_VECTOR[3], total)
    hp_120, lp_120 = _split_filter(lp_60, up, lo, 3)  # 0.5-1 kHz, 0-0.5
    features[2], total = _log_of_energy(hp_120, _OFFSET_VECTOR[2], total)
    hp_60, lp_60 = _split_filter(lp_120, up, lo, 4)  # 250-500, 0-250 Hz
    features[1], total = _log_of_energy(hp_60, _OFFSET_VECTOR[1], total)
    hp_120 = _high_pass_filter(lp_60, hp_state)  # 80-250 Hz
    features[0], total = _log_of_energy(hp_120, _OFFSET_VECTOR[0], total)
    return features, total
