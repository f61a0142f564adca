//! Frame normalisation: uint8 HWC -> float32 CHW, `x * scale[c] + offset[c]`.
//!
//! Bit-identical to the numpy implementation in
//! `remotemedia/kernels/normalize.py`: the per-channel coefficients come from
//! Python (float32), and each output is `(x as f32) * scale` rounded to f32,
//! then `+ offset` rounded to f32. Rust never contracts `*` and `+` into a
//! fused multiply-add, so the two roundings are the same as numpy's.

use crate::KernelError;

/// One channel: a contiguous plane from a contiguous uint8 input.
#[inline(always)]
fn plane1(src: &[u8], dst: &mut [f32], s: f32, o: f32) {
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = (x as f32) * s + o;
    }
}

/// Three interleaved channels into three planes in one pass: contiguous
/// reads, three contiguous write streams (LLVM vectorises the stride-3 loads).
#[inline(always)]
fn planes3(src: &[u8], dst: &mut [f32], s: &[f32], o: &[f32]) {
    let n = src.len() / 3;
    let (p0, rest) = dst.split_at_mut(n);
    let (p1, p2) = rest.split_at_mut(n);
    let (s0, s1, s2, o0, o1, o2) = (s[0], s[1], s[2], o[0], o[1], o[2]);
    for (((px, a), b), c) in src
        .chunks_exact(3)
        .zip(p0.iter_mut())
        .zip(p1.iter_mut())
        .zip(p2.iter_mut())
    {
        *a = (px[0] as f32) * s0 + o0;
        *b = (px[1] as f32) * s1 + o1;
        *c = (px[2] as f32) * s2 + o2;
    }
}

/// Four interleaved channels (RGBA) into four planes in one pass.
#[inline(always)]
fn planes4(src: &[u8], dst: &mut [f32], s: &[f32], o: &[f32]) {
    let n = src.len() / 4;
    let (p0, rest) = dst.split_at_mut(n);
    let (p1, rest) = rest.split_at_mut(n);
    let (p2, p3) = rest.split_at_mut(n);
    let (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3]);
    let (o0, o1, o2, o3) = (o[0], o[1], o[2], o[3]);
    for ((((px, a), b), c), d) in src
        .chunks_exact(4)
        .zip(p0.iter_mut())
        .zip(p1.iter_mut())
        .zip(p2.iter_mut())
        .zip(p3.iter_mut())
    {
        *a = (px[0] as f32) * s0 + o0;
        *b = (px[1] as f32) * s1 + o1;
        *c = (px[2] as f32) * s2 + o2;
        *d = (px[3] as f32) * s3 + o3;
    }
}

/// Any channel count: per channel, a strided pass over the whole input.
#[inline(always)]
fn planes_any(src: &[u8], dst: &mut [f32], channels: usize, scale: &[f32], offset: &[f32]) {
    let n = src.len() / channels;
    for (c, plane) in dst.chunks_exact_mut(n).enumerate() {
        let (s, o) = (scale[c], offset[c]);
        for (d, px) in plane.iter_mut().zip(src.chunks_exact(channels)) {
            *d = (px[c] as f32) * s + o;
        }
    }
}

#[inline(always)]
fn normalize_body(src: &[u8], dst: &mut [f32], channels: usize, scale: &[f32], offset: &[f32]) {
    match channels {
        1 => plane1(src, dst, scale[0], offset[0]),
        3 => planes3(src, dst, scale, offset),
        4 => planes4(src, dst, scale, offset),
        _ => planes_any(src, dst, channels, scale, offset),
    }
}

/// The same loops compiled for AVX2 (wider vectors, byte shuffles): about
/// twice as fast as the baseline x86-64 (SSE2) code. Only `*` and `+`: no
/// FMA, so the results are bit for bit those of the baseline code.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normalize_avx2(
    src: &[u8],
    dst: &mut [f32],
    channels: usize,
    scale: &[f32],
    offset: &[f32],
) {
    normalize_body(src, dst, channels, scale, offset)
}

fn run(
    src: &[u8],
    dst: &mut [f32],
    channels: usize,
    scale: &[f32],
    offset: &[f32],
    baseline: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if !baseline && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        return unsafe { normalize_avx2(src, dst, channels, scale, offset) };
    }
    normalize_body(src, dst, channels, scale, offset)
}

/// Normalises a C-contiguous uint8 (height, width, channels) frame, given
/// flat, into the flat float32 (channels, height, width) slice `dst`.
///
/// `baseline = true` skips the AVX2 code (tests compare both paths).
pub fn normalize_u8_f32(
    src: &[u8],
    channels: usize,
    scale: &[f32],
    offset: &[f32],
    dst: &mut [f32],
    baseline: bool,
) -> Result<(), KernelError> {
    if channels == 0 || !src.len().is_multiple_of(channels) {
        return Err(KernelError::invalid(
            "channels",
            format!("a divisor of the input length {}", src.len()),
            channels,
        ));
    }
    if scale.len() != channels || offset.len() != channels {
        return Err(KernelError::invalid(
            "scale/offset",
            format!("{channels} values each"),
            format!("{} and {}", scale.len(), offset.len()),
        ));
    }
    if dst.len() != src.len() {
        return Err(KernelError::invalid(
            "out",
            format!("{} elements (same as the input)", src.len()),
            dst.len(),
        ));
    }
    if !src.is_empty() {
        run(src, dst, channels, scale, offset, baseline);
    }
    Ok(())
}
