//! Criterion benchmark of the QR decoder on generated 1280×720 frames: the whole pipeline and
//! each decoder alone, on a clean frame and on a degraded one, plus the preparations (local
//! threshold, downscale, upscale, smoothing). The
//! success-rate figures come from `softpos bench qr` (docs/qr-decoding.md).
#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented items.

use criterion::{Criterion, criterion_group, criterion_main};
use softpos::qr::synth::{self, Degradation};
use softpos::qr::{Pipeline, binarize};

fn decoder(c: &mut Criterion) {
    let payload = b"00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";
    let clean = synth::picture(1, payload, &[], synth::WIDTH, synth::HEIGHT);
    let blurred = synth::picture(
        2,
        payload,
        &[Degradation::Blur, Degradation::UnevenLight],
        synth::WIDTH,
        synth::HEIGHT,
    );
    for (name, frame) in [("clean", &clean), ("blur+uneven light", &blurred)] {
        for preset in ["standard", "zxing", "rqrr", "rxing"] {
            let pipeline = Pipeline::preset(preset).expect("preset");
            c.bench_function(&format!("qr {preset}: {name} 1280x720"), |b| {
                b.iter(|| pipeline.decode(frame))
            });
        }
    }
    c.bench_function("qr hybrid threshold 1280x720", |b| {
        b.iter(|| binarize::hybrid(&clean))
    });
    c.bench_function("qr downscale 1/2 1280x720", |b| {
        b.iter(|| clean.downscaled(2))
    });
    c.bench_function("qr upscale x2 1280x720", |b| b.iter(|| clean.upscaled()));
    c.bench_function("qr smooth 3x3 1280x720", |b| b.iter(|| clean.smoothed()));
}

criterion_group!(benches, decoder);
criterion_main!(benches);
