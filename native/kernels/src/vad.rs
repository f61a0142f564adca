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

    /// Decisions (0/1) for `samples.len() / frame_length` consecutive frames
    /// of `frame_length` int16 samples each.
    pub fn process_frames(
        &mut self,
        samples: &[i16],
        frame_length: usize,
    ) -> Result<Vec<u8>, KernelError> {
        let valid = self.frame_lengths();
        if !valid.contains(&frame_length) {
            return Err(KernelError::invalid(format!(
                "frame_length: expected one of {valid:?} samples at {} Hz, given {frame_length}",
                self.sample_rate()
            )));
        }
        if !samples.len().is_multiple_of(frame_length) {
            return Err(KernelError::invalid(format!(
                "samples: expected a multiple of {frame_length} samples, given {}",
                samples.len()
            )));
        }
        samples
            .chunks_exact(frame_length)
            .map(|frame| self.vad.process(frame).map(u8::from))
            .collect()
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
        return Err(KernelError::invalid(
            "frame_length: expected at least 1 sample, given 0",
        ));
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
