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
"""One Gaussian of the detector's mixture models (``WebRtcVad_GaussianProbability``;
``gmm.rs`` in the Rust port).
"""

from __future__ import annotations

from remotemedia.kernels._webrtc_vad_py.spl import div_w32_w16, w16, w32

# vad_gmm.c
_COMP_VAR = 22005
_LOG2_EXP = 5909  # log2(exp(1)) in Q12


def _exp_value(tmp32: int) -> int:
    """The exp() approximation of WebRtcVad_GaussianProbability (Q10).

    ``tmp32`` is ``(delta * (x - mean)) >> 9``; returns 0 when it is not
    below kCompVar.  (A shift count outside 0..31 is undefined in C; it can
    only arise for unreachable, wrapped-around models and is taken modulo 32
    as x86 does.)
    """
    if tmp32 >= _COMP_VAR:
        return 0
    t = w16((_LOG2_EXP * w16(tmp32)) >> 12)
    t = w16(-t)
    exp_value = 0x0400 | (t & 0x03FF)
    t = w16(t ^ 0xFFFF)
    t >>= 10
    t += 1
    return exp_value >> (t & 31)


# exp_value for the reachable range 0 <= tmp32 < kCompVar.
_EXP_TABLE = tuple(_exp_value(v) for v in range(_COMP_VAR))

# std -> (inv_std Q10, inv_std2 Q14) of WebRtcVad_GaussianProbability.
_INV_STD_CACHE: dict = {}


def _inv_std(std: int) -> tuple:
    r = _INV_STD_CACHE.get(std)
    if r is None:
        inv_std = w16(div_w32_w16(131072 + (std >> 1), std))
        t = inv_std >> 2
        r = (inv_std, w16((t * t) >> 2))
        _INV_STD_CACHE[std] = r
    return r


def gaussian_probability(inp: int, mean: int, std: int) -> tuple:
    """WebRtcVad_GaussianProbability: returns (probability Q20, delta Q11).

    Args:
        inp: Feature (log energy) in Q4, int16.
        mean: Gaussian mean in Q7, int16.
        std: Gaussian standard deviation in Q7, int16.
    """
    r = _INV_STD_CACHE.get(std)
    if r is None:
        r = _inv_std(std)
    inv_std, inv_std2 = r
    # tmp16 = (int16)(input << 3); tmp16 -= mean (int16 wrap-around).
    t = (((inp << 3) - mean + 0x8000) & 0xFFFF) - 0x8000
    delta = ((((inv_std2 * t) >> 10) + 0x8000) & 0xFFFF) - 0x8000
    tmp32 = (delta * t) >> 9
    if 0 <= tmp32 < _COMP_VAR:
        e = _EXP_TABLE[tmp32]
    else:
        e = _exp_value(tmp32)
    return w32(inv_std * e), delta
