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
"""Pure-Python/numpy port of the WebRTC GMM voice activity detector.

This is a bit-exact reimplementation of the WebRTC VAD as packaged by libfvad
and py-webrtcvad: for the same sequence of frames, :class:`FvadPy` returns the
same decision as ``fvad_process`` / ``webrtcvad.Vad.is_speech`` for every
frame, including the upstream quirks:

* at 48 kHz, a 20 ms or 30 ms frame is handled by resampling its *first*
  10 ms two or three times (the upstream resampling loop never advances its
  input pointer), so the remaining 10/20 ms of the frame are ignored;
* all fixed-point overflows wrap exactly as the (two's complement) C code does.

The implementation is organised like the C sources: resampling (48 kHz to
8 kHz, and the 32/16 kHz half-band downsamplers), the six-band filter bank
computing log energies, and the two-Gaussian-per-band GMM with its adaptive
model update and hang-over smoothing.

Recursive filters cannot be vectorised exactly (each output is rounded before
it feeds back), so they are Python loops over Python ints; state-independent
parts (products with the input, the 48->32 kHz FIR) use numpy, and the small
per-band arrays (15-120 samples) stay in Python lists, where numpy's per-call
overhead would dominate.  The loops first run without emulating int32/int16
overflow and check, at C speed, that no value got near a type limit (then no
C expression could have wrapped and the result is identical); only blocks
that fail that check are recomputed with full wrap-around emulation.

Cost (CPython 3.11, one core): about 0.3 ms per 30 ms frame at 8 or 16 kHz,
0.5 ms at 32 kHz and 2 ms at 48 kHz, where upstream resamples 10 ms of audio
once per 10 ms of frame.

The package is split the way the Rust port is (``native/kernels/src/fvad/``),
so the two can be reviewed file by file: :mod:`.spl` (fixed-point helpers),
:mod:`.resample` (16/32 kHz decimator, 48 -> 8 kHz chain), :mod:`.filterbank`
(band energies), :mod:`.gmm` (one Gaussian), :mod:`.core` (the detector).
"""

from remotemedia.kernels._webrtc_vad_py.core import VALID_RATES, FvadPy

__all__ = ["VALID_RATES", "FvadPy"]
