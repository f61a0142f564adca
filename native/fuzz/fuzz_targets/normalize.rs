//! Frame normalisation on any bytes, channel count and coefficients: no
//! panic, clear errors for inconsistent shapes, and the AVX2 path equal to the
//! baseline path and to `x * scale + offset` (two float32 roundings).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::{normalize::normalize_u8_f32, KernelError};

#[derive(Arbitrary, Debug)]
struct Case {
    src: Vec<u8>,
    channels: u8,
    scale: Vec<f32>,
    offset: Vec<f32>,
    /// Output length minus input length (0 is the valid case).
    out_delta: i8,
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fuzz_target!(|case: Case| {
    let channels = case.channels as usize;
    let n_out = (case.src.len() as isize + case.out_delta as isize).max(0) as usize;
    let mut fast = vec![0f32; n_out];
    let mut base = vec![0f32; n_out];
    let r_fast = normalize_u8_f32(
        &case.src,
        channels,
        &case.scale,
        &case.offset,
        &mut fast,
        false,
    );
    let r_base = normalize_u8_f32(
        &case.src,
        channels,
        &case.scale,
        &case.offset,
        &mut base,
        true,
    );
    assert_eq!(r_fast, r_base);
    let valid = channels > 0
        && case.src.len().is_multiple_of(channels)
        && case.scale.len() == channels
        && case.offset.len() == channels
        && n_out == case.src.len();
    match r_fast {
        Ok(()) => {
            assert!(valid);
            let pixels = case.src.len() / channels.max(1);
            for (i, &x) in case.src.iter().enumerate() {
                let (p, c) = (i / channels, i % channels);
                let want = (x as f32) * case.scale[c] + case.offset[c];
                let at = c * pixels + p;
                assert!(same(fast[at], want), "avx2 at {at}");
                assert!(same(base[at], want), "baseline at {at}");
            }
        }
        Err(KernelError::Invalid { .. }) => assert!(!valid),
        Err(e) => panic!("unexpected {e:?}"),
    }
});
