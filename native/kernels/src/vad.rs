//! Voice activity detection: WebRTC (the pure-Rust port of libfvad in
//! [`crate::fvad`], bit-exact with libfvad's C) and the energy detector.
//!
//! The Python wrapper (`remotemedia/kernels/vad.py`) handles re-framing, the
//! 48 kHz sub-framing and flushing; this module runs complete frames.

use crate::fvad::Fvad;
use crate::KernelError;

/// One WebRTC VAD state (fresh at construction and after `reset`), whose
/// filter and model state persist between calls.
pub struct WebRtcVad {
    vad: Fvad,
}

impl WebRtcVad {
    /// `mode` 0 (least aggressive) to 3; `sample_rate` 8000, 16000, 32000 or 48000 Hz.
    pub fn new(mode: i32, sample_rate: i32) -> Result<Self, KernelError> {
        Ok(Self {
            vad: Fvad::new(mode, sample_rate)?,
        })
    }

    pub fn mode(&self) -> i32 {
        self.vad.mode()
    }

    pub fn sample_rate(&self) -> i32 {
        self.vad.sample_rate()
    }

    /// The frame lengths this detector takes, in samples (10, 20 and 30 ms).
    pub fn frame_lengths(&self) -> [usize; 3] {
        self.vad.frame_lengths()
    }

    /// Back to a fresh state, keeping mode and sample rate.
    pub fn reset(&mut self) {
        self.vad.reset();
    }

    fn check_frame_length(&self, frame_length: usize) -> Result<(), KernelError> {
        let valid = self.frame_lengths();
        if valid.contains(&frame_length) {
            return Ok(());
        }
        Err(KernelError::invalid(
            "frame_length",
            format!("one of {valid:?} samples at {} Hz", self.sample_rate()),
            frame_length,
        ))
    }

    /// Decisions (0/1) for `samples.len() / frame_length` consecutive frames
    /// of `frame_length` int16 samples each.
    pub fn process_frames(
        &mut self,
        samples: &[i16],
        frame_length: usize,
    ) -> Result<Vec<u8>, KernelError> {
        self.check_frame_length(frame_length)?;
        if !samples.len().is_multiple_of(frame_length) {
            return Err(KernelError::invalid(
                "samples",
                format!("a multiple of {frame_length} samples"),
                samples.len(),
            ));
        }
        samples
            .chunks_exact(frame_length)
            .map(|frame| self.vad.process(frame).map(u8::from))
            .collect()
    }

    /// Decisions for one whole clip from a fresh state: resets, then gives one
    /// decision per frame of `frame_length * group` samples, 1 when any of its
    /// `group` sub-frames of `frame_length` is speech (the Python wrapper's
    /// 48 kHz rule), the last partial frame zero-padded. The state is left as
    /// after the clip.
    pub fn decide_clip(
        &mut self,
        samples: &[i16],
        frame_length: usize,
        group: usize,
    ) -> Result<Vec<u8>, KernelError> {
        self.check_frame_length(frame_length)?;
        if !(1..=3).contains(&group) {
            return Err(KernelError::invalid("group", "1, 2 or 3", group));
        }
        self.reset();
        let frame = frame_length * group;
        let mut out = Vec::with_capacity(samples.len().div_ceil(frame));
        let mut frames = samples.chunks_exact(frame);
        for f in &mut frames {
            out.push(self.decide_grouped(f, frame_length)?);
        }
        let rest = frames.remainder();
        if !rest.is_empty() {
            let mut padded = vec![0i16; frame];
            padded[..rest.len()].copy_from_slice(rest);
            out.push(self.decide_grouped(&padded, frame_length)?);
        }
        Ok(out)
    }

    /// 1 when any sub-frame of `frame` is speech; every sub-frame updates the state.
    fn decide_grouped(&mut self, frame: &[i16], frame_length: usize) -> Result<u8, KernelError> {
        let mut any = false;
        for sub in frame.chunks_exact(frame_length) {
            let speech = self.vad.process(sub)?;
            any |= speech;
        }
        Ok(u8::from(any))
    }
}

/// Energy VAD: per frame of `frame_length` samples, RMS computed as
/// sqrt(sequential float64 sum of squares / frame_length); speech when
/// RMS > threshold. Returns (decisions 0/1, RMS values). A trailing partial
/// frame is ignored (the wrapper pads or buffers it).
pub fn energy_vad_frames(
    samples: &[f32],
    frame_length: usize,
    threshold: f64,
) -> Result<(Vec<u8>, Vec<f64>), KernelError> {
    if frame_length == 0 {
        return Err(KernelError::invalid("frame_length", "at least 1 sample", 0));
    }
    Ok(samples
        .chunks_exact(frame_length)
        .map(|frame| {
            let mut acc = 0.0f64;
            for &x in frame {
                let v = x as f64;
                acc += v * v;
            }
            let r = (acc / frame_length as f64).sqrt();
            ((r > threshold) as u8, r)
        })
        .unzip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        assert_eq!(
            WebRtcVad::new(4, 16_000).err(),
            Some(KernelError::invalid("mode", "0, 1, 2 or 3", 4))
        );
        assert_eq!(
            WebRtcVad::new(0, 44_100)
                .err()
                .and_then(|e| e.parameter().map(str::to_owned)),
            Some("sample_rate".to_owned())
        );
        let mut vad = WebRtcVad::new(3, 16_000).unwrap();
        assert_eq!(vad.frame_lengths(), [160, 320, 480]);
        let e = vad.process_frames(&[0; 100], 100).unwrap_err();
        assert!(e.message().starts_with("frame_length:"), "{e}");
        let e = vad.process_frames(&[0; 170], 160).unwrap_err();
        assert!(e.message().starts_with("samples:"), "{e}");
        assert_eq!(vad.process_frames(&[], 160).unwrap(), Vec::<u8>::new());
        let e = energy_vad_frames(&[0.0; 4], 0, 0.1).unwrap_err();
        assert!(e.message().starts_with("frame_length:"));
    }

    #[test]
    fn decide_clip_is_reset_frames_and_a_padded_tail() {
        let mut x = 99u32;
        let noise: Vec<i16> = (0..16_000 + 100)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((x >> 16) as i16) / 3
            })
            .collect();
        let mut vad = WebRtcVad::new(3, 16_000).unwrap();
        vad.process_frames(&noise[..4800], 160).unwrap(); // history that the clip must not see
        let clip = vad.decide_clip(&noise, 480, 1).unwrap();
        let mut fresh = WebRtcVad::new(3, 16_000).unwrap();
        let mut expect = fresh.process_frames(&noise[..15_840], 480).unwrap();
        let mut tail = noise[15_840..].to_vec();
        tail.resize(480, 0);
        expect.extend(fresh.process_frames(&tail, 480).unwrap());
        assert_eq!(clip, expect);
        // Grouped: a 30 ms frame is 3 sub-frames of 10 ms, speech when any is.
        let grouped = vad.decide_clip(&noise[..4800], 160, 3).unwrap();
        let mut fresh = WebRtcVad::new(3, 16_000).unwrap();
        let subs = fresh.process_frames(&noise[..4800], 160).unwrap();
        let expect: Vec<u8> = subs.chunks(3).map(|c| *c.iter().max().unwrap()).collect();
        assert_eq!(grouped, expect);
        assert_eq!(vad.decide_clip(&[], 160, 1).unwrap(), Vec::<u8>::new());
        assert_eq!(
            vad.decide_clip(&[0; 10], 161, 1).unwrap_err().parameter(),
            Some("frame_length")
        );
        assert_eq!(
            vad.decide_clip(&[0; 10], 160, 4).unwrap_err().parameter(),
            Some("group")
        );
    }

    #[test]
    fn loud_noise_is_speech_and_silence_is_not() {
        let mut vad = WebRtcVad::new(0, 16_000).unwrap();
        let mut x = 12_345u32;
        let noise: Vec<i16> = (0..16_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        let d = vad.process_frames(&noise, 160).unwrap();
        assert!(d.iter().filter(|&&v| v == 1).count() > 50, "{d:?}");
        vad.reset();
        assert!(vad
            .process_frames(&[0; 16_000], 160)
            .unwrap()
            .iter()
            .all(|&v| v == 0));
        let (dec, rms) = energy_vad_frames(&[0.5, -0.5, 0.0, 0.0, 1.0], 2, 0.1).unwrap();
        assert_eq!(dec, vec![1, 0]);
        assert_eq!(rms, vec![0.5, 0.0]);
    }
}
