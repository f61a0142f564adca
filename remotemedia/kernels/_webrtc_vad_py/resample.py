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
"""Resamplers feeding the 8 kHz detector (``resample.rs`` in the Rust port):
the half-band all-pass decimator used at 16 and 32 kHz
(``WebRtcVad_Downsampling``) and the 48 -> 8 kHz chain of the signal
processing library (``WebRtcSpl_Resample48khzTo8khz``).
"""

from __future__ import annotations

import numpy as np

from remotemedia.kernels._webrtc_vad_py.spl import w32

# vad_sp.c: the half-band decimator's coefficients
_ALL_PASS_COEFS_Q13 = (5243, 1392)
# resample_by_2_internal.c
_RESAMPLE_ALLPASS = ((821, 6110, 12382), (3050, 9368, 15063))
# resample_fractional.c
_COEFS_48_TO_32 = (
    np.array([778, -2050, 1087, 23285, 12903, -3783, 441, 222], dtype=np.int64),
    np.array([222, 441, -3783, 12903, 23285, 1087, -2050, 778], dtype=np.int64),
)



# --------------------------------------------------------------------------
# Half-band all-pass sections used by the 48 kHz -> 8 kHz resampler.
#
# Each recursive loop has two versions: an exact one that wraps every value
# feeding a right shift to int32 (as two's complement C does), and a fast one
# on plain Python ints that is only *accepted* when every value it produced
# stayed far enough inside the int32 range that no C expression could have
# overflowed (then both give the same result); otherwise the block is redone
# with the exact version from the saved state.
# --------------------------------------------------------------------------


def _allpass3_exact(xs: list, st: list, base: int, coefs: tuple) -> list:
    """One cascade of three first-order all-pass sections (exact int32).

    Mirrors one loop of resample_by_2_internal.c: ``st[base:base+4]`` is the
    int32 state (updated in place), ``xs`` the int32 input samples, and the
    returned list holds ``state[base+3]`` after each sample (int32).
    """
    c0, c1, c2 = coefs
    s0, s1, s2, s3 = st[base], st[base + 1], st[base + 2], st[base + 3]
    out = []
    append = out.append
    for x in xs:
        # diff = (x - s1 + (1 << 13)) >> 14 with int32 wrap-around.
        d = ((x - s1 + 0x80002000) & 0xFFFFFFFF) - 0x80000000 >> 14
        t1 = s0 + d * c0
        s0 = x
        d = ((t1 - s2 + 0x80000000) & 0xFFFFFFFF) - 0x80000000 >> 14
        if d < 0:
            d += 1
        t0 = s1 + d * c1
        s1 = t1
        d = ((t0 - s3 + 0x80000000) & 0xFFFFFFFF) - 0x80000000 >> 14
        if d < 0:
            d += 1
        s3 = ((s2 + d * c2 + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        s2 = t0
        append(s3)
    st[base] = s0
    st[base + 1] = w32(s1)
    st[base + 2] = w32(s2)
    st[base + 3] = s3
    return out


def _sum_halves(a: list, b: list) -> list:
    """``int32((p >> 1) + (q >> 1))`` element-wise (int32 wrap-around)."""
    return [w32((p >> 1) + (q >> 1)) for p, q in zip(a, b)]


def _allpass3_pair(xa: list, xb: list, st: list, ba: int, bb: int) -> list:
    """Two independent all-pass cascades whose outputs are summed.

    Section A (coefficients ``kResampleAllpass[1]``, state ``st[ba:ba+4]``)
    runs on ``xa`` and section B (``kResampleAllpass[0]``, ``st[bb:bb+4]``)
    on ``xb``; returns ``int32((A >> 1) + (B >> 1))`` per sample, the
    combination every resample_by_2_internal.c function makes.  Interleaving
    the two independent recursions in one loop halves the loop overhead.

    Fast path: runs on unbounded ints and ORs every shifted difference,
    offset by 2**16, into ``acc``, together with ``(A >> 14) + 2**16`` and
    ``(B >> 14) + 2**16``.  ``0 <= acc < 2**17`` proves each difference was
    within [-2**30 - 2**14, 2**30) and ``|A|, |B| <= 2**30``, so no int32
    expression of the C code could have wrapped and the result is exact;
    otherwise the block is redone with :func:`_allpass3_exact`.
    """
    if not xa:
        return []
    lim = 0x30000000
    if max(xa) > lim or min(xa) < -lim or max(xb) > lim or min(xb) < -lim:
        return _sum_halves(
            _allpass3_exact(xa, st, ba, _RESAMPLE_ALLPASS[1]), _allpass3_exact(xb, st, bb, _RESAMPLE_ALLPASS[0])
        )
    a0, a1, a2 = _RESAMPLE_ALLPASS[1]
    b0, b1, b2 = _RESAMPLE_ALLPASS[0]
    p0, p1, p2, p3 = st[ba], st[ba + 1], st[ba + 2], st[ba + 3]
    q0, q1, q2, q3 = st[bb], st[bb + 1], st[bb + 2], st[bb + 3]
    out = []
    append = out.append
    acc = 0
    for x, y in zip(xa, xb):
        d1 = (x - p1 + 8192) >> 14
        t1 = p0 + d1 * a0
        p0 = x
        d2 = (t1 - p2) >> 14
        if d2 < 0:
            d2 += 1
        t0 = p1 + d2 * a1
        p1 = t1
        d3 = (t0 - p3) >> 14
        if d3 < 0:
            d3 += 1
        p3 = p2 + d3 * a2
        p2 = t0
        e1 = (y - q1 + 8192) >> 14
        t1 = q0 + e1 * b0
        q0 = y
        e2 = (t1 - q2) >> 14
        if e2 < 0:
            e2 += 1
        t0 = q1 + e2 * b1
        q1 = t1
        e3 = (t0 - q3) >> 14
        if e3 < 0:
            e3 += 1
        q3 = q2 + e3 * b2
        q2 = t0
        append((p3 >> 1) + (q3 >> 1))
        acc |= (
            (d1 + 65536)
            | (d2 + 65536)
            | (d3 + 65536)
            | (e1 + 65536)
            | (e2 + 65536)
            | (e3 + 65536)
            | ((p3 >> 14) + 65536)
            | ((q3 >> 14) + 65536)
        )
    if 0 <= acc < 131072:
        st[ba], st[ba + 1], st[ba + 2], st[ba + 3] = p0, w32(p1), w32(p2), p3
        st[bb], st[bb + 1], st[bb + 2], st[bb + 3] = q0, w32(q1), w32(q2), q3
        return out
    return _sum_halves(
        _allpass3_exact(xa, st, ba, _RESAMPLE_ALLPASS[1]), _allpass3_exact(xb, st, bb, _RESAMPLE_ALLPASS[0])
    )


def _down_by2_short_to_int(xs: list, st: list) -> list:
    """WebRtcSpl_DownBy2ShortToInt (len(xs) int16 in, len(xs)/2 int32 out)."""
    ev = [(x << 15) + 16384 for x in xs[0::2]]
    od = [(x << 15) + 16384 for x in xs[1::2]]
    return _allpass3_pair(ev, od, st, 0, 4)


def _lp_by2_int_to_int(xs: list, st: list) -> list:
    """WebRtcSpl_LPBy2IntToInt (len(xs) int32 in, len(xs) int32 out)."""
    ev = xs[0::2]
    od = xs[1::2]
    # Even outputs: odd inputs delayed by one sample (state[12] holds the
    # last odd input of the previous call) through section [0:4], plus even
    # inputs through section [4:8].  Read state[12] before section [12:16]
    # overwrites it.
    lo = _allpass3_pair([st[12]] + od[:-1], ev, st, 0, 4)
    # Odd outputs: even inputs through [8:12], odd inputs through [12:16].
    hi = _allpass3_pair(ev, od, st, 8, 12)
    out = [0] * len(xs)
    out[0::2] = [v >> 15 for v in lo]
    out[1::2] = [v >> 15 for v in hi]
    return out


def _resample_48_to_32(inp: np.ndarray, k: int) -> list:
    """WebRtcSpl_Resample48khzTo32khz on int64 array ``inp`` (3k+6 used)."""
    c0, c1 = _COEFS_48_TO_32
    n = 3 * k
    o0 = np.full(k, 16384, dtype=np.int64)
    o1 = np.full(k, 16384, dtype=np.int64)
    for j in range(8):
        o0 += c0[j] * inp[j : j + n : 3]
        o1 += c1[j] * inp[j + 1 : j + 1 + n : 3]
    out = np.empty(2 * k, dtype=np.int64)
    out[0::2] = o0
    out[1::2] = o1
    out = ((out + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return out.tolist()


def _down_by2_int_to_short(xs: list, st: list) -> list:
    """WebRtcSpl_DownBy2IntToShort (len(xs) int32 in, len(xs)/2 int16 out)."""
    out = [v >> 15 for v in _allpass3_pair(xs[0::2], xs[1::2], st, 0, 4)]
    if min(out) < -32768 or max(out) > 32767:
        out = [32767 if v > 32767 else (-32768 if v < -32768 else v) for v in out]
    return out


class Resampler48To8:
    """WebRtcSpl_Resample48khzTo8khz with its persistent state."""

    __slots__ = ("s_48_24", "s_24_24", "s_24_16", "s_16_8")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.s_48_24 = [0] * 8
        self.s_24_24 = [0] * 16
        self.s_24_16 = [0] * 8
        self.s_16_8 = [0] * 8

    def process(self, xs: list) -> list:
        """Resample 480 int16 samples (10 ms at 48 kHz) to 80 at 8 kHz."""
        t24 = _down_by2_short_to_int(xs, self.s_48_24)  # 240 int32
        lp = _lp_by2_int_to_int(t24, self.s_24_24)  # 240 int32
        buf = np.empty(248, dtype=np.int64)
        buf[:8] = self.s_24_16
        buf[8:] = lp
        self.s_24_16 = lp[-8:]
        t16 = _resample_48_to_32(buf, 80)  # 160 int32
        return _down_by2_int_to_short(t16, self.s_16_8)  # 80 int16


# --------------------------------------------------------------------------
# vad_sp.c: half-band downsampler (16 -> 8 kHz, 32 -> 16 kHz).
# --------------------------------------------------------------------------


def downsampling(frame: np.ndarray, st: list, base: int) -> np.ndarray:
    """WebRtcVad_Downsampling: int16 in, half as many int16 out.

    ``st[base]``/``st[base + 1]`` are the two int32 filter states, updated in
    place.  The state never leaves +-2**17, so only the int16 outputs can
    wrap; the loop runs without wrapping and is redone with it if any output
    left the int16 range.
    """
    ev = frame[0::2].astype(np.int32)
    od = frame[1::2].astype(np.int32)
    c0, c1 = _ALL_PASS_COEFS_Q13
    # WEBRTC_SPL_MUL_16_16_RSFT(coef, input, 14) does not depend on the state.
    pe = ((ev * c0) >> 14).tolist()
    po = ((od * c1) >> 14).tolist()
    xe = ev.tolist()
    xo = od.tolist()
    s1_in, s2_in = st[base], st[base + 1]
    s1, s2 = s1_in, s2_in
    out = []
    append = out.append
    acc = 0
    for x, y, p, q in zip(xe, xo, pe, po):
        a = (s1 >> 1) + p
        s1 = x - (c0 * a >> 12)
        b = (s2 >> 1) + q
        s2 = y - (c1 * b >> 12)
        append(a + b)
        acc |= (a + 0x8000) | (b + 0x8000)
    if not 0 <= acc < 0x10000:
        # Some tmp16 left the int16 range: redo with the int16 casts.
        s1, s2 = s1_in, s2_in
        out = []
        append = out.append
        for x, y, p, q in zip(xe, xo, pe, po):
            a = (((s1 >> 1) + p + 0x8000) & 0xFFFF) - 0x8000
            s1 = x - (c0 * a >> 12)
            b = (((s2 >> 1) + q + 0x8000) & 0xFFFF) - 0x8000
            s2 = y - (c1 * b >> 12)
            append(a + b)
    st[base], st[base + 1] = s1, s2
    # *signal_out = tmp16_1 + tmp16_2, stored as int16 (wrap-around).
    return np.array(out, dtype=np.int64).astype(np.int16)
