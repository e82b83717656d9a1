//! `softpos bench qr`: the decoder pipeline on generated camera-like frames.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::bench::{ms, percentile};
use crate::qr::Pipeline;
use crate::qr::decoder::PRESETS;
use crate::qr::synth::{self, Degradation};

/// Arguments of `softpos bench qr`.
#[derive(Debug, Args)]
pub(crate) struct BenchQrArgs {
    /// Number of frames.
    #[arg(long, default_value_t = 200)]
    count: u64,
    /// The seed of the frame set.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The pipeline: standard, rqrr, rqrr-retries, rqrr-hybrid, rxing.
    #[arg(long, default_value = "standard")]
    pipeline: String,
    /// Print one line per frame that failed (index, degradation, module size, payload length).
    #[arg(long)]
    failures: bool,
}

#[derive(Default)]
struct Tally {
    ok: usize,
    times: Vec<Duration>,
}

impl Tally {
    fn line(&mut self, name: &str) -> String {
        self.times.sort();
        let n = self.times.len().max(1);
        format!(
            "{name:<14} {:>4}/{:<4} {:>6.1} %   median {:>6.2} ms   p95 {:>7.2} ms",
            self.ok,
            self.times.len(),
            100.0 * self.ok as f64 / n as f64,
            ms(percentile(&self.times, 50)),
            ms(percentile(&self.times, 95)),
        )
    }
}

pub(super) fn run(args: BenchQrArgs) -> anyhow::Result<ExitCode> {
    let Some(pipeline) = Pipeline::preset(&args.pipeline) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        bail!(
            "unknown pipeline {:?}; one of: {}",
            args.pipeline,
            names.join(", ")
        );
    };
    let passes: Vec<String> = pipeline.passes().iter().map(ToString::to_string).collect();
    println!(
        "pipeline {}: {}; {} frames of {}x{}, seed {}",
        args.pipeline,
        passes.join(" → "),
        args.count,
        synth::WIDTH,
        synth::HEIGHT,
        args.seed
    );
    let mut overall = Tally::default();
    let mut by_degradation: BTreeMap<Degradation, Tally> = BTreeMap::new();
    let mut by_module: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_pass: BTreeMap<String, usize> = BTreeMap::new();
    let (mut wrong, mut panics) = (0usize, 0u32);
    for index in 0..args.count {
        let sample = synth::frame(args.seed, index);
        let start = Instant::now();
        let attempt = pipeline.decode(&sample.image);
        let elapsed = start.elapsed();
        panics += attempt.panics;
        let ok = match &attempt.decoded {
            Some(decoded) if decoded.payload == sample.payload => {
                *by_pass.entry(decoded.pass.to_string()).or_default() += 1;
                true
            }
            Some(decoded) => {
                wrong += 1;
                eprintln!(
                    "WRONG PAYLOAD on frame {index} ({}, pass {}): {} bytes decoded, {} expected",
                    sample.degradation,
                    decoded.pass,
                    decoded.payload.len(),
                    sample.payload.len()
                );
                false
            }
            None => false,
        };
        if !ok && args.failures {
            println!(
                "  failed: frame {index} {} {:.1} px/module, {} bytes",
                sample.degradation,
                sample.module_px,
                sample.payload.len()
            );
        }
        let bucket = match sample.module_px {
            m if m < 3.0 => "2-3 px/module",
            m if m < 5.0 => "3-5 px/module",
            _ => "5-10 px/module",
        };
        for tally in [
            &mut overall,
            by_degradation.entry(sample.degradation).or_default(),
            by_module.entry(bucket).or_default(),
        ] {
            tally.ok += usize::from(ok);
            tally.times.push(elapsed);
        }
    }
    println!("{}", overall.line("overall"));
    for (degradation, tally) in &mut by_degradation {
        println!("{}", tally.line(degradation.name()));
    }
    for (bucket, tally) in &mut by_module {
        println!("{}", tally.line(bucket));
    }
    for (pass, count) in &by_pass {
        println!("decoded by {pass}: {count}");
    }
    println!("decoder panics caught: {panics}");
    if wrong > 0 {
        eprintln!(
            "softpos: {wrong} WRONG PAYLOADS: the decoder returned bytes that were not encoded"
        );
        return Ok(ExitCode::from(1));
    }
    println!("wrong payloads: 0");
    Ok(ExitCode::SUCCESS)
}
