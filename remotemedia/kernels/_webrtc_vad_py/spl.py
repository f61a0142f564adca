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
"""Fixed-point helpers of the WebRTC signal processing library, on Python ints
with C semantics: int16/int32 wrap-around, truncating division, the
normalisation shifts and the scaled energy of a block (``spl.rs`` in the Rust port).
"""

from __future__ import annotations


def w16(v: int) -> int:
    """Wrap an int to the int16 range (C cast to int16_t)."""
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def w32(v: int) -> int:
    """Wrap an int to the int32 range (two's complement overflow)."""
    return ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def div_w32_w16(num: int, den: int) -> int:
    """WebRtcSpl_DivW32W16: int32 / int16 truncating toward zero."""
    if den == 0:
        return 0x7FFFFFFF
    q = abs(num) // abs(den)
    if (num < 0) != (den < 0):
        q = -q
    return w32(q)


def norm_w32(a: int) -> int:
    """WebRtcSpl_NormW32: left shifts needed to normalise an int32."""
    if a == 0:
        return 0
    if a < 0:
        a = ~a
    return 31 - a.bit_length()


def norm_u32(a: int) -> int:
    """WebRtcSpl_NormU32: left shifts needed to normalise a uint32."""
    if a == 0:
        return 0
    return 32 - a.bit_length()



def block_energy(xs: list) -> tuple:
    """WebRtcSpl_Energy with WebRtcSpl_GetScalingSquare: (energy, scaling)."""
    n = len(xs)
    # int16 abs: abs(-32768) stays -32768 and never wins the max (initial -1).
    smax = max(map(abs, xs))
    if smax == 32768:
        smax = max([abs(x) for x in xs if x != -32768], default=-1)
    if smax == 0:
        scaling = 0
    else:
        t = norm_w32(smax * smax)
        nbits = n.bit_length()
        scaling = 0 if t > nbits else nbits - t
    if scaling:
        en = sum([(x * x) >> scaling for x in xs])
    else:
        en = sum([x * x for x in xs])
    return w32(en), scaling
