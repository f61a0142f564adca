//! Voice activity detection on any parameters and samples: no panic;
//! invalid mode, rate or frame length are `Invalid` errors; decisions come
//! one per frame, are the same in one call or split across calls (the state
//! carries), and a reset gives a fresh detector's decisions again. The
//! energy detector's decisions are exactly `rms > threshold`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use remotemedia_kernels::vad::{energy_vad_frames, WebRtcVad};
use remotemedia_kernels::KernelError;

const RATES: [i32; 4] = [8_000, 16_000, 32_000, 48_000];

#[derive(Arbitrary, Debug)]
enum Pick {
    Valid(u8),
    Raw(i32),
}

#[derive(Arbitrary, Debug)]
struct Case {
    mode: Pick,
    rate: Pick,
    frame: Pick,
    samples: Vec<i16>,
    /// Where to split the frames for the two-call run.
    split: u16,
    energy: Vec<f32>,
    energy_frame: u16,
    threshold: f64,
}

fn pick(p: &Pick, valid: &[i32]) -> i32 {
    match p {
        Pick::Valid(i) => valid[*i as usize % valid.len()],
        Pick::Raw(v) => *v,
    }
}

fuzz_target!(|case: Case| {
    let mode = pick(&case.mode, &[0, 1, 2, 3]);
    let rate = pick(&case.rate, &RATES);
    let built = WebRtcVad::new(mode, rate);
    let valid_params = (0..=3).contains(&mode) && RATES.contains(&rate);
    match (&built, valid_params) {
        (Ok(_), true) | (Err(KernelError::Invalid { .. }), false) => {}
        (other, _) => panic!("mode {mode}, rate {rate}: {:?}", other.as_ref().err()),
    }
    if let Ok(mut vad) = built {
        let lengths = vad.frame_lengths().map(|n| n as i32);
        let frame = pick(&case.frame, &lengths).max(0) as usize;
        let decided = vad.process_frames(&case.samples, frame);
        let ok =
            lengths.contains(&(frame as i32)) && case.samples.len().is_multiple_of(frame.max(1));
        match decided {
            Ok(d) => {
                assert!(ok);
                assert_eq!(d.len(), case.samples.len() / frame);
                assert!(d.iter().all(|&x| x <= 1));
                // The same frames split over two calls of a fresh detector.
                let mut two = WebRtcVad::new(mode, rate).unwrap();
                let cut = (case.split as usize % (d.len() + 1)) * frame;
                let mut split = two.process_frames(&case.samples[..cut], frame).unwrap();
                split.extend(two.process_frames(&case.samples[cut..], frame).unwrap());
                assert_eq!(split, d, "split at sample {cut}");
                // Reset: a fresh detector's decisions again.
                vad.reset();
                assert_eq!(vad.mode(), mode);
                assert_eq!(vad.sample_rate(), rate);
                assert_eq!(vad.process_frames(&case.samples, frame).unwrap(), d);
            }
            Err(KernelError::Invalid { .. }) => assert!(!ok),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    let fl = case.energy_frame as usize;
    match energy_vad_frames(&case.energy, fl, case.threshold) {
        Ok((dec, rms)) => {
            assert!(fl > 0);
            assert_eq!(dec.len(), case.energy.len() / fl);
            assert_eq!(rms.len(), dec.len());
            for (i, frame) in case.energy.chunks_exact(fl).enumerate() {
                let sum: f64 = frame.iter().fold(0.0, |a, &x| a + (x as f64) * (x as f64));
                let want = (sum / fl as f64).sqrt();
                assert!(want.to_bits() == rms[i].to_bits() || (want.is_nan() && rms[i].is_nan()));
                assert_eq!(dec[i], (rms[i] > case.threshold) as u8);
            }
        }
        Err(KernelError::Invalid { .. }) => assert_eq!(fl, 0),
        Err(e) => panic!("unexpected {e:?}"),
    }
});
