use super::*;
use crate::resample::{output_len, Resampler};
use crate::test_util::Lcg;

fn invalid(r: Result<FusedSegment, KernelError>) -> String {
    match r {
        Err(e @ (KernelError::Invalid { .. } | KernelError::Spec(_))) => e.message(),
        Err(e) => panic!("expected Invalid, got {e:?}"),
        Ok(_) => panic!("expected Invalid, got a segment"),
    }
}

/// Interleaved int16 "speech": bursts of noisy tones between silences, as
/// `channels` slightly different channels.
fn speech_like(frames: usize, rate: usize, channels: usize, seed: u64) -> Vec<i16> {
    let mut rng = Lcg(seed);
    let mut out = vec![0i16; frames * channels];
    let burst = rate * 7 / 10;
    let pause = rate / 2;
    for f in 0..frames {
        let t = f as f64 / rate as f64;
        let on = f % (burst + pause) < burst;
        let env = if on { 0.4 } else { 0.002 };
        let tone = (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 0.6
            + (2.0 * std::f64::consts::PI * 1250.0 * t).sin() * 0.3;
        for c in 0..channels {
            let v = env * (tone + 0.3 * rng.unit()) * (1.0 - 0.1 * c as f64);
            out[f * channels + c] = (v * 32_767.0) as i16;
        }
    }
    out
}

const CHAIN: &str = r#"{
  "stages": [
    {"id": "mix", "kind": "mono_mix"},
    {"id": "rs", "kind": "resample", "params": {"target_sample_rate": 16000}},
    {"id": "vad", "kind": "webrtc_vad", "params": {"mode": 3, "frame_ms": 30, "segments": true,
      "min_speech_ms": 100, "min_silence_ms": 150, "max_segment_s": 0.5}},
    {"id": "i16", "kind": "convert", "params": {"target_format": "i16"}}
  ],
  "edges": [{"from": "mix", "to": "rs"}, {"from": "rs", "to": "vad"}, {"from": "rs", "to": "i16"}],
  "input": "mix",
  "outputs": ["rs", "vad", "i16"]
}"#;

/// Everything a stream gave, concatenated: resampled audio, converted
/// audio, decisions, segments, the keep_from values, the final summary.
#[derive(Debug, Default, PartialEq)]
struct Collected {
    rs: Vec<u32>,
    i16: Vec<i16>,
    clipped: u64,
    decisions: Vec<u8>,
    segments: Vec<Segment>,
    keep_from_last: i64,
    summary: Option<VadSummary>,
    events: Vec<(usize, &'static str)>,
}

fn f32_bits(a: &AudioRef<'_>) -> Vec<u32> {
    match a.samples {
        Samples::F32(s) => s.iter().map(|v| v.to_bits()).collect(),
        other => panic!("expected float32, got {:?}", other.format()),
    }
}

fn audio_of<'a>(seg: &'a FusedSegment, at: AudioAt, input: &AudioRef<'a>) -> AudioRef<'a> {
    match at {
        AudioAt::Input => *input,
        AudioAt::Stage(k) => seg.stage_audio(k),
    }
}

fn collect_chunk(seg: &FusedSegment, input: &AudioRef<'_>, got: &mut Collected) {
    let (rs, vad, conv) = (
        seg.index("rs").unwrap(),
        seg.index("vad").unwrap(),
        seg.index("i16").unwrap(),
    );
    match seg.output(rs) {
        StageResult::Audio { at, sample_rate } => {
            assert_eq!(sample_rate, 16_000);
            got.rs.extend(f32_bits(&audio_of(seg, at, input)));
        }
        other => panic!("{other:?}"),
    }
    match seg.output(conv) {
        StageResult::Converted { at, clipped, .. } => {
            got.clipped += clipped;
            match audio_of(seg, at, input).samples {
                Samples::I16(s) => got.i16.extend_from_slice(s),
                other => panic!("{:?}", other.format()),
            }
        }
        other => panic!("{other:?}"),
    }
    match seg.output(vad) {
        StageResult::Vad {
            at,
            decisions,
            new_segments,
            keep_from,
            ..
        } => {
            // The VAD passes the resampler's output through.
            assert_eq!(at, AudioAt::Stage(rs));
            got.decisions.extend_from_slice(decisions);
            got.segments.extend_from_slice(new_segments);
            assert!(keep_from >= got.keep_from_last, "keep_from went back");
            got.keep_from_last = keep_from;
        }
        other => panic!("{other:?}"),
    }
}

fn collect_flush(seg: &FusedSegment, got: &mut Collected) {
    for e in seg.flush_events() {
        let name = seg.ids()[e.stage].as_str();
        match (&e.output, name) {
            (FlushOutput::Audio(a), "rs") => {
                got.rs.extend(f32_bits(&a.audio()));
                got.events.push((e.stage, "audio"));
            }
            (FlushOutput::Converted(a, clipped), "i16") => {
                got.clipped += clipped;
                match &a.buf {
                    SampleBuf::I16(s) => got.i16.extend_from_slice(s),
                    other => panic!("{other:?}"),
                }
                got.events.push((e.stage, "converted"));
            }
            (
                FlushOutput::VadChunk {
                    decisions,
                    new_segments,
                    ..
                },
                "vad",
            ) => {
                got.decisions.extend_from_slice(decisions);
                got.segments.extend_from_slice(new_segments);
                got.events.push((e.stage, "vad_chunk"));
            }
            (FlushOutput::VadFinal(s), "vad") => {
                got.decisions.extend_from_slice(&s.flushed_decisions);
                got.segments.extend_from_slice(&s.new_segments);
                got.summary = Some(s.clone());
                got.events.push((e.stage, "vad_final"));
            }
            other => panic!("unexpected flush output {other:?}"),
        }
    }
}

/// Streams interleaved int16 stereo `x` through `seg` in chunks of the given sizes.
fn stream(seg: &mut FusedSegment, x: &[i16], channels: usize, sizes: &[usize]) -> Collected {
    let mut got = Collected::default();
    let frames = x.len() / channels;
    let mut pos = 0;
    let mut k = 0;
    while pos < frames {
        let n = sizes[k % sizes.len()].min(frames - pos);
        k += 1;
        let chunk = &x[pos * channels..(pos + n) * channels];
        let input =
            AudioRef::new(Samples::I16(chunk), channels, Layout::Interleaved, 48_000).unwrap();
        seg.process(input).unwrap();
        collect_chunk(seg, &input, &mut got);
        pos += n;
    }
    seg.flush().unwrap();
    collect_flush(seg, &mut got);
    got
}

#[test]
fn streamed_equals_whole_for_random_chunkings() {
    let x = speech_like(48_000 * 3 + 77, 48_000, 2, 1);
    let mut seg = FusedSegment::from_json(CHAIN).unwrap();
    let whole = stream(&mut seg, &x, 2, &[usize::MAX]);
    let summary = whole.summary.clone().unwrap();
    // The signal has speech and the segment rules cut it.
    assert!(summary.speech_frames > 10 && summary.speech_frames < summary.total_frames);
    assert!(whole.segments.len() >= 3, "{:?}", whole.segments);
    assert_eq!(summary.segments.as_deref(), Some(&whole.segments[..]));
    assert_eq!(summary.decisions, whole.decisions);
    assert_eq!(
        whole.rs.len(),
        output_len(48_000 * 3 + 77, 48_000, 16_000) as usize
    );
    let mut rng = Lcg(99);
    for trial in 0..12 {
        let sizes: Vec<usize> = (0..17)
            .map(|_| match rng.next() % 4 {
                0 => 0,
                1 => 1 + (rng.next() % 5) as usize,
                2 => 960,
                _ => (rng.next() % 20_000) as usize,
            })
            .chain([1])
            .collect();
        // A fresh segment or the same one after its flush: the same output.
        let mut fresh = FusedSegment::from_json(CHAIN).unwrap();
        let a = stream(&mut fresh, &x, 2, &sizes);
        let b = stream(&mut seg, &x, 2, &sizes);
        for got in [a, b] {
            assert_eq!(got.rs, whole.rs, "trial {trial}");
            assert_eq!(got.i16, whole.i16, "trial {trial}");
            assert_eq!(got.decisions, whole.decisions, "trial {trial}");
            assert_eq!(got.segments, whole.segments, "trial {trial}");
            assert_eq!(got.summary, whole.summary, "trial {trial}");
        }
    }
}

#[test]
fn the_resample_stage_equals_the_resampler_on_the_mixed_signal() {
    // mono_mix of stereo int16 (mix kernel), then int16 -> float32, then the
    // resampler of the "high" preset at 48k -> 16k (N = 768).
    let x = speech_like(30_000, 48_000, 2, 5);
    let mut mono = vec![0i16; 30_000];
    crate::mix::mix_i16(&x, 2, Layout::Interleaved, &mut mono).unwrap();
    let mut f = vec![0.0f32; mono.len()];
    crate::convert::i16_to_f32(&mono, &mut f).unwrap();
    let mut r = Resampler::new(48_000, 16_000, 768, "blackman_harris2", 1).unwrap();
    let mut want = vec![0.0f32; 10_000];
    r.resample(&f, &mut want).unwrap();
    let mut seg = FusedSegment::from_json(CHAIN).unwrap();
    let got = stream(&mut seg, &x, 2, &[4800]);
    assert_eq!(got.rs, want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
}

#[test]
fn reset_gives_a_fresh_segment() {
    let x = speech_like(48_000 * 2, 48_000, 2, 3);
    let mut fresh = FusedSegment::from_json(CHAIN).unwrap();
    let want = stream(&mut fresh, &x, 2, &[1234]);
    let mut seg = FusedSegment::from_json(CHAIN).unwrap();
    // Half a stream, at another rate in a second segment's worth of state ...
    for chunk in x[..48_000].chunks(960 * 2) {
        let input = AudioRef::new(Samples::I16(chunk), 2, Layout::Interleaved, 48_000).unwrap();
        seg.process(input).unwrap();
    }
    seg.reset();
    assert_eq!(stream(&mut seg, &x, 2, &[1234]), want);
    // A reset after a stream at another rate too (new engines).
    let y = speech_like(44_100, 44_100, 2, 4);
    for chunk in y.chunks(882 * 2) {
        let input = AudioRef::new(Samples::I16(chunk), 2, Layout::Interleaved, 44_100).unwrap();
        seg.process(input).unwrap();
    }
    seg.reset();
    assert_eq!(stream(&mut seg, &x, 2, &[1234]), want);
}

#[test]
fn flush_feeds_each_stages_flush_output_downstream_before_it_flushes() {
    let spec = r#"{
      "stages": [
        {"id": "r1", "kind": "resample", "params": {"target_sample_rate": 32000}},
        {"id": "r2", "kind": "resample", "params": {"target_sample_rate": 16000}},
        {"id": "vad", "kind": "energy_vad", "params": {"frame_ms": 20}}
      ],
      "edges": [{"from": "r1", "to": "r2"}, {"from": "r2", "to": "vad"}],
      "input": "r1",
      "outputs": ["vad"]
    }"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    let x: Vec<f32> = (0..4_000)
        .map(|i| ((i as f32) * 0.01).sin() * 0.5)
        .collect();
    let input = AudioRef::new(Samples::F32(&x), 1, Layout::Planar, 48_000).unwrap();
    seg.process(input).unwrap();
    seg.flush().unwrap();
    let (r1, r2, vad) = (0, 1, 2);
    let order: Vec<(usize, &str)> = seg
        .flush_events()
        .iter()
        .map(|e| {
            let kind = match &e.output {
                FlushOutput::Audio(_) => "audio",
                FlushOutput::VadChunk { .. } => "vad_chunk",
                FlushOutput::VadFinal(_) => "vad_final",
                other => panic!("{other:?}"),
            };
            (e.stage, kind)
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (r1, "audio"),      // r1's flush
            (r2, "audio"),      // r2 processes r1's flush output
            (r2, "audio"),      // r2's flush
            (vad, "vad_chunk"), // the VAD processes both
            (vad, "vad_chunk"),
            (vad, "vad_final"),
        ]
    );
    // Every sample arrived: 4000 frames at 48k -> 16k is 1333 frames; 20 ms frames of 320.
    let FlushOutput::VadFinal(s) = &seg.flush_events()[5].output else {
        unreachable!()
    };
    assert_eq!(s.total_frames, 1333_u64.div_ceil(320));
    // A flush with no stream: resamplers give one empty channel, the VAD then runs on it.
    seg.flush().unwrap();
    let kinds: Vec<bool> = seg
        .flush_events()
        .iter()
        .map(|e| matches!(&e.output, FlushOutput::Audio(a) if a.channels == 1 && a.frames == 0))
        .collect();
    assert_eq!(kinds, vec![true, true, true, false, false, false]);
    match &seg.flush_events()[5].output {
        FlushOutput::VadFinal(s) => assert_eq!(s.total_frames, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_vad_that_never_ran_flushes_to_nothing() {
    let spec = r#"{"stages": [{"id": "v", "kind": "webrtc_vad"}], "input": "v", "outputs": ["v"]}"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    seg.flush().unwrap();
    assert_eq!(
        seg.flush_events(),
        &[FlushEvent {
            stage: 0,
            output: FlushOutput::VadNotStarted
        }]
    );
}

#[test]
fn fan_out_feeds_every_branch_the_same_chunk() {
    let spec = r#"{
      "stages": [
        {"id": "mix", "kind": "mono_mix"},
        {"id": "a", "kind": "convert", "params": {"target_format": "f32"}},
        {"id": "b", "kind": "convert", "params": {"target_format": "int32"}},
        {"id": "c", "kind": "energy_vad", "params": {"frame_ms": 10, "energy_threshold": 0.1}}
      ],
      "edges": [{"from": "mix", "to": "a"}, {"from": "mix", "to": "b"}, {"from": "mix", "to": "c"}],
      "input": "mix",
      "outputs": ["a", "b", "c"]
    }"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    // Planar stereo int16.
    let x: Vec<i16> = vec![100, -3, 32_767, 5, 0, 7, 101, -2, 32_767, 6, 1, 7];
    let input = AudioRef::new(Samples::I16(&x), 2, Layout::Planar, 1000).unwrap();
    seg.process(input).unwrap();
    let mono: Vec<i16> = vec![100, -2, 32_767, 6, 0, 7]; // mean, half to even
    let (a, b, c) = (1, 2, 3);
    let StageResult::Converted { at, clipped, .. } = seg.output(a) else {
        panic!()
    };
    assert_eq!(clipped, 0);
    match seg
        .stage_audio(match at {
            AudioAt::Stage(k) => k,
            AudioAt::Input => panic!("converted audio cannot be the input"),
        })
        .samples
    {
        Samples::F32(s) => {
            let want: Vec<f32> = mono.iter().map(|&v| v as f32 / 32_768.0).collect();
            assert_eq!(s, &want[..]);
        }
        other => panic!("{:?}", other.format()),
    }
    let StageResult::Converted {
        at: AudioAt::Stage(k),
        ..
    } = seg.output(b)
    else {
        panic!()
    };
    match seg.stage_audio(k).samples {
        Samples::I32(s) => {
            let want: Vec<i32> = mono.iter().map(|&v| (v as i32) << 16).collect();
            assert_eq!(s, &want[..]);
        }
        other => panic!("{:?}", other.format()),
    }
    // 10 ms at 1 kHz: frames of 10 samples, none complete yet.
    let StageResult::Vad { decisions, at, .. } = seg.output(c) else {
        panic!()
    };
    assert!(decisions.is_empty());
    assert_eq!(at, AudioAt::Stage(0)); // the mix's output, passed through
}

#[test]
fn mono_input_and_same_format_pass_through() {
    let spec = r#"{
      "stages": [{"id": "mix", "kind": "mono_mix"}, {"id": "f", "kind": "convert"}],
      "edges": [{"from": "mix", "to": "f"}],
      "input": "mix",
      "outputs": ["mix", "f"]
    }"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    let x = [0.25f32, -0.5, 1.0];
    seg.process(AudioRef::new(Samples::F32(&x), 1, Layout::Planar, 8000).unwrap())
        .unwrap();
    assert!(matches!(
        seg.output(0),
        StageResult::Audio {
            at: AudioAt::Input,
            sample_rate: 8000
        }
    ));
    assert!(matches!(
        seg.output(1),
        StageResult::Converted {
            at: AudioAt::Input,
            clipped: 0,
            ..
        }
    ));
    assert_eq!(seg.metrics()[1].out_bytes, 12);
    assert_eq!(seg.metrics()[0].calls, 1);
}

#[test]
fn eight_float_channels_are_refused_before_anything_runs() {
    let mut seg = FusedSegment::from_json(CHAIN).unwrap();
    let x = vec![0.1f32; 8 * 100];
    let input = AudioRef::new(Samples::F32(&x), 8, Layout::Planar, 48_000).unwrap();
    let e = seg.process(input).unwrap_err();
    assert!(
        e.message().starts_with(
            "stage \"mix\": samples: expected integer audio or float audio of at most 7 channels"
        ),
        "{e}"
    );
    assert_eq!(seg.failed_stage(), Some(0));
    // Nothing moved: the stream that follows is the one of a fresh segment.
    let y = speech_like(20_000, 48_000, 2, 8);
    let mut fresh = FusedSegment::from_json(CHAIN).unwrap();
    assert_eq!(
        stream(&mut seg, &y, 2, &[960]),
        stream(&mut fresh, &y, 2, &[960])
    );
    // Integer audio of 8 channels is fine.
    let z = vec![7i16; 8 * 100];
    seg.process(AudioRef::new(Samples::I16(&z), 8, Layout::Planar, 48_000).unwrap())
        .unwrap();
}

#[test]
fn run_time_errors_name_the_stage() {
    let mut seg = FusedSegment::from_json(CHAIN).unwrap();
    let x = vec![0i16; 2 * 480];
    seg.process(AudioRef::new(Samples::I16(&x), 2, Layout::Planar, 48_000).unwrap())
        .unwrap();
    let e = seg
        .process(AudioRef::new(Samples::I16(&x), 2, Layout::Planar, 44_100).unwrap())
        .unwrap_err();
    assert_eq!(
        e.message(),
        "stage \"rs\": sample_rate: expected 48000 Hz (as earlier in this stream), given 44100"
    );
    assert_eq!(seg.failed_stage(), Some(1));
    // NaN reaches the resampler (float input): its value error.
    let spec = r#"{"stages": [{"id": "r", "kind": "resample"}], "input": "r", "outputs": ["r"]}"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    let e = seg
        .process(AudioRef::new(Samples::F32(&[0.0, f32::NAN]), 1, Layout::Planar, 48_000).unwrap())
        .unwrap_err();
    assert_eq!(
        e.message(),
        "stage \"r\": samples: expected finite values of magnitude at most 1e+30, given an array with NaN, \
         inf or larger values"
    );
    // The stream started (as the node's would have): after a reset, a rate the resampler does not take.
    seg.reset();
    let e = seg
        .process(AudioRef::new(Samples::F32(&[0.0]), 1, Layout::Planar, 4_000).unwrap())
        .unwrap_err();
    assert_eq!(
        e.message(),
        "stage \"r\": in_rate: expected 8000 to 192000 Hz, given 4000"
    );
}

#[test]
fn stages_run_in_topological_order_whatever_the_spec_order() {
    let spec = r#"{
      "stages": [
        {"id": "v", "kind": "webrtc_vad"},
        {"id": "c", "kind": "convert"},
        {"id": "r", "kind": "resample"},
        {"id": "m", "kind": "mono_mix"},
        {"id": "e", "kind": "energy_vad"}
      ],
      "edges": [{"from": "r", "to": "v"}, {"from": "m", "to": "c"}, {"from": "c", "to": "r"},
                {"from": "c", "to": "e"}],
      "input": "m",
      "outputs": ["v", "e"]
    }"#;
    let seg = FusedSegment::from_json(spec).unwrap();
    let order: Vec<&str> = seg.order().iter().map(|&i| seg.ids()[i].as_str()).collect();
    let pos = |id: &str| order.iter().position(|&s| s == id).unwrap();
    assert_eq!(order.len(), 5);
    assert!(
        pos("m") < pos("c") && pos("c") < pos("r") && pos("r") < pos("v") && pos("c") < pos("e")
    );
    assert_eq!(seg.outputs(), &[0, 4]);
}

#[test]
fn cycles_are_named_by_their_path() {
    let spec = r#"{
      "stages": [{"id": "in", "kind": "mono_mix"}, {"id": "a", "kind": "convert"},
                 {"id": "b", "kind": "convert"}, {"id": "c", "kind": "convert"}],
      "edges": [{"from": "in", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"},
                {"from": "c", "to": "a"}],
      "input": "in", "outputs": ["c"]
    }"#;
    let m = invalid(FusedSegment::from_json(spec));
    assert!(
        m.starts_with("edges: expected no cycle, given the cycle "),
        "{m}"
    );
    let path = m.rsplit("cycle ").next().unwrap();
    assert!(
        [
            r#""a" -> "b" -> "c" -> "a""#,
            r#""b" -> "c" -> "a" -> "b""#,
            r#""c" -> "a" -> "b" -> "c""#
        ]
        .contains(&path),
        "{m}"
    );
    let spec = r#"{"stages": [{"id": "x", "kind": "convert"}], "edges": [{"from": "x", "to": "x"}],
                   "input": "x", "outputs": []}"#;
    assert_eq!(
        invalid(FusedSegment::from_json(spec)),
        r#"edges: expected no cycle, given the cycle "x" -> "x""#
    );
}

#[test]
fn bad_specs_are_refused_naming_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("{", "spec: EOF while parsing"),
        ("[]", "spec: invalid length 0"),
        ("3", "spec: invalid type: integer `3`"),
        (r#"{"stages": [], "input": "a", "outputs": [], "extra": 1}"#, "spec: unknown field `extra`"),
        (r#"{"stages": [], "input": "a", "outputs": []}"#, "stages: expected at least one stage"),
        (
            r#"{"stages": [{"id": "a", "kind": "mono_mix", "x": 1}], "input": "a", "outputs": []}"#,
            "spec: unknown field `x`",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "fft"}], "input": "a", "outputs": []}"#,
            "stage \"a\": kind: expected one of mono_mix, convert, resample, webrtc_vad, energy_vad, normalize, given \"fft\"",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "resample", "params": {"target_sample_rate": 4000}}], "input": "a", "outputs": []}"#,
            "stage \"a\": target_sample_rate: expected 8000 to 192000 Hz, given 4000",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "resample", "params": {"target_sample_rate": "16k"}}], "input": "a", "outputs": []}"#,
            "stage \"a\": target_sample_rate: invalid type: string \"16k\", expected i64",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "resample", "params": {"rate": 16000}}], "input": "a", "outputs": []}"#,
            "stage \"a\": rate: unknown field `rate`, expected `target_sample_rate` or `quality`",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "resample", "params": {"quality": "best"}}], "input": "a", "outputs": []}"#,
            "stage \"a\": quality: expected one of 'low', 'medium', 'high', 'very_high', given \"best\"",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "resample", "params": [1]}], "input": "a", "outputs": []}"#,
            "stage \"a\": params: expected an object, given [1]",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "webrtc_vad", "params": {"frame_ms": 25}}], "input": "a", "outputs": []}"#,
            "stage \"a\": frame_ms: expected 10, 20 or 30, given 25",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "webrtc_vad", "params": {"mode": 4}}], "input": "a", "outputs": []}"#,
            "stage \"a\": mode: expected 0, 1, 2 or 3, given 4",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "webrtc_vad", "params": {"energy_threshold": 0.1}}], "input": "a", "outputs": []}"#,
            "stage \"a\": energy_threshold: not a parameter of webrtc_vad",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "energy_vad", "params": {"energy_threshold": -1}}], "input": "a", "outputs": []}"#,
            "stage \"a\": energy_threshold: expected a finite number >= 0, given -1",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "energy_vad", "params": {"min_speech_ms": -5}}], "input": "a", "outputs": []}"#,
            "stage \"a\": min_speech_ms: expected a finite number >= 0, given -5.0",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "energy_vad", "params": {"max_segment_s": 0.01}}], "input": "a", "outputs": []}"#,
            "stage \"a\": max_segment_s: expected at least two frames",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert", "params": {"target_format": "u8"}}], "input": "a", "outputs": []}"#,
            "stage \"a\": target_format: expected one of 'f32', 'i16', 'i32', given \"u8\"",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "normalize", "params": {"std": [1, 0, 1]}}], "input": "a", "outputs": []}"#,
            "stage \"a\": std: expected values > 0",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "normalize", "params": {"std": [1, 1]}}], "input": "a", "outputs": []}"#,
            "stage \"a\": std: expected one number or 3 (one per channel)",
        ),
        (
            r#"{"stages": [{"id": "", "kind": "convert"}], "input": "", "outputs": []}"#,
            "stages[0].id: expected a non-empty string",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}, {"id": "a", "kind": "convert"}], "input": "a", "outputs": []}"#,
            "stages: expected unique ids, given \"a\" twice",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}], "edges": [{"from": "a", "to": "b"}], "input": "a", "outputs": []}"#,
            "edges[0].to: expected the id of a stage, given \"b\" (no such stage)",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}], "edges": [{"from": "a", "to": "a", "port": 1}], "input": "a", "outputs": []}"#,
            "spec: unknown field `port`",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}, {"id": "b", "kind": "convert"}, {"id": "c", "kind": "convert"}],
                "edges": [{"from": "a", "to": "c"}, {"from": "b", "to": "c"}], "input": "a", "outputs": []}"#,
            "stage \"c\": expected at most one input edge, given edges from \"a\" and \"b\"",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}, {"id": "b", "kind": "convert"}], "input": "a", "outputs": []}"#,
            "stage \"b\": expected to be fed by another stage or to be the input stage \"a\", given no input edge",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}, {"id": "b", "kind": "convert"}],
                "edges": [{"from": "a", "to": "b"}], "input": "b", "outputs": []}"#,
            "input: expected a stage without input edges, given \"b\" (fed by \"a\")",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}], "input": "z", "outputs": []}"#,
            "input: expected the id of a stage, given \"z\" (no such stage)",
        ),
        (
            r#"{"stages": [{"id": "v", "kind": "webrtc_vad"}, {"id": "r", "kind": "resample"}],
                "edges": [{"from": "v", "to": "r"}], "input": "v", "outputs": []}"#,
            "edges: stage \"v\" (webrtc_vad) gives VAD results, but stage \"r\" (resample) takes audio",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}], "input": "a", "outputs": ["a", "a"]}"#,
            "outputs: expected unique stage ids, given \"a\" twice",
        ),
        (
            r#"{"stages": [{"id": "a", "kind": "convert"}], "input": "a", "outputs": ["q"]}"#,
            "outputs[0]: expected the id of a stage, given \"q\" (no such stage)",
        ),
    ];
    for (spec, want) in cases {
        let m = invalid(FusedSegment::from_json(spec));
        assert!(
            m.starts_with(want),
            "spec {spec}\n  gave {m}\n  want {want}"
        );
    }
}

#[test]
fn normalize_segments_take_frames() {
    let spec = r#"{"stages": [{"id": "n", "kind": "normalize", "params": {"mean": 0.5, "std": 0.25}}],
                   "input": "n", "outputs": ["n"]}"#;
    let mut seg = FusedSegment::from_json(spec).unwrap();
    let frame: Vec<u8> = (0..2 * 3 * 2).map(|v| (v * 20) as u8).collect();
    seg.process_frame(&frame, 2, 3, 2).unwrap();
    let StageResult::Tensor { data, shape } = seg.output(0) else {
        panic!()
    };
    assert_eq!(shape, [2, 2, 3]);
    let (scale, offset) = ((1.0f64 / (255.0 * 0.25)) as f32, (-0.5f64 / 0.25) as f32);
    // (channel 1, row 0, column 2) is pixel (0, 2), channel 1: value (0*3 + 2)*2 + 1 = 5 -> 100.
    assert_eq!(data[6 + 2], 100.0f32 * scale + offset);
    let e = seg
        .process(AudioRef::new(Samples::F32(&[0.0]), 1, Layout::Planar, 8000).unwrap())
        .unwrap_err();
    assert!(
        e.message().starts_with("input: expected video frames"),
        "{e}"
    );
    let e = seg.process_frame(&frame, 2, 3, 3).unwrap_err();
    assert!(
        e.message().starts_with("stage \"n\": frame: expected"),
        "{e}"
    );
}
