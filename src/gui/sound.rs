//! Tones: a short beep when a card has been read and a rising two-note chime on approval, on
//! the default audio output (`cpal`, ALSA on Linux) when the `sound` feature is built and a
//! device exists; silent otherwise. A thread of its own (`gui-sound`) plays them, so nothing
//! waits for audio: a missing or busy device is logged once and the tone dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};

/// What to sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// The card was read: it can leave the reader.
    CardRead,
    /// The transaction was approved.
    Approved,
}

/// The tone player: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub(crate) struct Sounds {
    tones: Option<Sender<Tone>>,
    /// The merchant's choice in the settings.
    pub(crate) enabled: Arc<AtomicBool>,
}

impl Sounds {
    /// Starts the player (with the `sound` feature; a silent player without it).
    pub(crate) fn start(enabled: bool) -> Self {
        let enabled = Arc::new(AtomicBool::new(enabled));
        let (tx, rx) = mpsc::channel::<Tone>();
        let spawned = std::thread::Builder::new()
            .name("gui-sound".into())
            .spawn(move || {
                let mut output = output::Output::new();
                while let Ok(tone) = rx.recv() {
                    output.play(tone);
                }
            });
        Self {
            tones: spawned.ok().map(|_| tx),
            enabled,
        }
    }

    /// Sounds `tone` if the merchant wants sounds; returns at once.
    pub(crate) fn play(&self, tone: Tone) {
        if self.enabled.load(Ordering::Relaxed)
            && let Some(tones) = &self.tones
        {
            let _ = tones.send(tone);
        }
    }
}

/// The notes of `tone`: (frequency in Hz, milliseconds); a frequency of 0 is a rest.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
pub(crate) fn notes(tone: Tone) -> &'static [(f32, u32)] {
    match tone {
        Tone::CardRead => &[(1_000.0, 90)],
        Tone::Approved => &[(880.0, 110), (0.0, 30), (1_320.0, 170)],
    }
}

/// The mono samples of `tone` at `rate` Hz, from -1 to 1, each note faded in and out over
/// 5 ms so that it does not click.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
pub(crate) fn samples(tone: Tone, rate: u32) -> Vec<f32> {
    let mut out = Vec::new();
    for &(frequency, ms) in notes(tone) {
        let count = usize::try_from(u64::from(rate) * u64::from(ms) / 1000).unwrap_or(0);
        let fade = usize::try_from(rate / 200).unwrap_or(1).max(1);
        for i in 0..count {
            #[allow(clippy::cast_precision_loss)] // Sample indices of a short tone.
            let t = i as f32 / rate as f32;
            let edge = i.min(count - 1 - i).min(fade);
            #[allow(clippy::cast_precision_loss)]
            let envelope = edge as f32 / fade as f32;
            let wave = if frequency > 0.0 {
                (t * frequency * std::f32::consts::TAU).sin()
            } else {
                0.0
            };
            out.push(wave * envelope * VOLUME);
        }
    }
    out
}

/// Loud enough to hear, soft enough not to startle.
#[cfg_attr(not(feature = "sound"), allow(dead_code))]
const VOLUME: f32 = 0.25;

#[cfg(feature = "sound")]
mod output {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

    use super::{Tone, samples};

    /// The default output device, looked up per tone (it may come and go).
    #[derive(Debug, Default)]
    pub(super) struct Output {
        warned: bool,
    }

    impl Output {
        pub(super) fn new() -> Self {
            Self::default()
        }

        pub(super) fn play(&mut self, tone: Tone) {
            if let Err(why) = play(tone)
                && !self.warned
            {
                self.warned = true;
                tracing::info!(%why, "no sound");
            }
        }
    }

    fn play(tone: Tone) -> Result<(), String> {
        let device = cpal::default_host()
            .default_output_device()
            .ok_or("no audio output device")?;
        let supported = device.default_output_config().map_err(|e| e.to_string())?;
        let format = supported.sample_format();
        let config = supported.config();
        let wave = samples(tone, config.sample_rate);
        #[allow(clippy::cast_precision_loss)]
        let seconds = wave.len() as f32 / config.sample_rate.max(1) as f32;
        let stream = match format {
            SampleFormat::F32 => stream::<f32>(&device, config, wave),
            SampleFormat::I16 => stream::<i16>(&device, config, wave),
            SampleFormat::U16 => stream::<u16>(&device, config, wave),
            SampleFormat::I32 => stream::<i32>(&device, config, wave),
            other => return Err(format!("sample format {other:?}")),
        }?;
        stream.play().map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_secs_f32(seconds) + Duration::from_millis(60));
        Ok(())
    }

    fn stream<T>(
        device: &cpal::Device,
        config: StreamConfig,
        wave: Vec<f32>,
    ) -> Result<cpal::Stream, String>
    where
        T: SizedSample + FromSample<f32>,
    {
        let channels = usize::from(config.channels).max(1);
        let wave = Arc::new(Mutex::new(wave.into_iter()));
        device
            .build_output_stream::<T, _, _>(
                config,
                move |data: &mut [T], _| {
                    let mut wave = wave.lock().unwrap_or_else(PoisonError::into_inner);
                    for frame in data.chunks_mut(channels) {
                        let value = T::from_sample(wave.next().unwrap_or(0.0));
                        frame.fill(value);
                    }
                },
                |e| tracing::debug!(error = %e, "audio stream"),
                None,
            )
            .map_err(|e| e.to_string())
    }
}

#[cfg(not(feature = "sound"))]
mod output {
    use super::Tone;

    /// No audio in this build: every tone is silent.
    #[derive(Debug)]
    pub(super) struct Output;

    impl Output {
        pub(super) fn new() -> Self {
            Self
        }

        pub(super) fn play(&mut self, _tone: Tone) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_have_their_length_and_fade_in_and_out() {
        let beep = samples(Tone::CardRead, 48_000);
        assert_eq!(beep.len(), 48_000 * 90 / 1000);
        assert!(beep[0].abs() < 1e-6 && beep[beep.len() - 1].abs() < 0.01);
        let loudest = beep.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((0.2..=VOLUME).contains(&loudest), "{loudest}");
        let chime = samples(Tone::Approved, 44_100);
        assert_eq!(chime.len(), 44_100 * (110 + 30 + 170) / 1000);
    }

    #[test]
    fn playing_returns_without_a_device_and_queues_nothing_when_off() {
        let (tx, rx) = mpsc::channel();
        let sounds = Sounds {
            tones: Some(tx),
            enabled: Arc::new(AtomicBool::new(true)),
        };
        sounds.play(Tone::CardRead);
        sounds.enabled.store(false, Ordering::Relaxed);
        sounds.play(Tone::Approved);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [Tone::CardRead]);
        // The real player, whatever the machine has (CI has no audio device).
        let player = Sounds::start(true);
        player.play(Tone::Approved);
        player.play(Tone::CardRead);
    }
}
