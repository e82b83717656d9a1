//! The decoder pipeline on the committed fixtures (`tests/data/qr/`) and on a handful of
//! generated camera-like frames. `cargo test --test qr_pipeline -- --ignored regenerate` rewrites
//! the fixtures from the generator (deterministic).

use std::path::{Path, PathBuf};

use softpos::camera::load_grey;
use softpos::qr::decoder::Prep;
use softpos::qr::synth::{self, Degradation};
use softpos::qr::{Engine, GreyImage, Pass, Pipeline};

/// A published EMVCo merchant-presented payload (Thai PromptPay) with its CRC (`6304 71E4`),
/// from the QR_Wiki repository (`chokchai9900/QR_Wiki`, Example/Base Example).
pub const PROMPTPAY: &str =
    "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";
/// An EMVCo-style dynamic merchant payload with its CRC (`6304 A52A`).
pub const EMV_DYNAMIC: &str = "00020101021202164000123456789012520458125303840540510.005502015802US5910Best Bites6008New York62210509INV-000420704T0016304A52A";
/// A payload that is not UTF-8 (a signed offline code is binary).
pub const BINARY: [u8; 24] = [
    0x80, 0xFF, 0xC3, 0x28, 0x00, 0x01, 0xFE, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0x90, 0x9A, 0x12, 0x34,
    0xF0, 0x28, 0x8C, 0xBC, 0xC0, 0xC1, 0x55, 0xAA,
];
/// The inverted fixture's payload.
pub const INVERTED: &str = "LIGHT ON DARK 0002010102115802FR";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/qr")
        .join(name)
}

fn decode_file(name: &str) -> Option<Vec<u8>> {
    let image = load_grey(&data(name)).expect("a readable fixture");
    Pipeline::default()
        .decode(&image)
        .decoded
        .map(|d| d.payload)
}

#[test]
fn the_fixtures_decode_to_their_payloads() {
    assert_eq!(
        decode_file("emvco-promptpay.png"),
        Some(PROMPTPAY.as_bytes().to_vec())
    );
    assert_eq!(
        decode_file("emvco-dynamic-photo.jpg"),
        Some(EMV_DYNAMIC.as_bytes().to_vec())
    );
    assert_eq!(decode_file("binary.png"), Some(BINARY.to_vec()));
    assert_eq!(
        decode_file("inverted.png"),
        Some(INVERTED.as_bytes().to_vec())
    );
    assert_eq!(decode_file("no-code.png"), None);
}

#[test]
fn a_garbage_file_is_an_error_not_a_panic() {
    let error = load_grey(&data("garbage.png")).expect_err("not an image");
    assert!(
        error.to_string().contains("not a readable PNG or JPEG"),
        "{error}"
    );
    let missing = load_grey(&data("missing.png")).expect_err("no such file");
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}

#[test]
fn generated_frames_decode_exactly_or_not_at_all() {
    // A handful of frames from the benchmark's set: every decode must be the exact payload, and
    // most of them must decode.
    let pipeline = Pipeline::default();
    let mut decoded = 0;
    for index in 0..6 {
        let sample = synth::frame(1, index);
        if let Some(d) = pipeline.decode(&sample.image).decoded {
            assert_eq!(
                d.payload, sample.payload,
                "frame {index} ({})",
                sample.degradation
            );
            decoded += 1;
        }
    }
    assert!(decoded >= 3, "only {decoded} of 6 frames decoded");
}

#[test]
fn each_stage_of_the_pipeline_reads_what_it_is_for() {
    let clean = synth::picture(3, PROMPTPAY.as_bytes(), &[], 640, 480);
    let d = Pipeline::default()
        .decode(&clean)
        .decoded
        .expect("a clean code");
    assert_eq!(d.payload, PROMPTPAY.as_bytes());
    assert!(
        ["rqrr@1/2", "zxing-cpp@1/1"].contains(&d.pass.to_string().as_str()),
        "one of the first two passes reads a clean code: {}",
        d.pass
    );
    // rqrr alone does not read light-on-dark codes; the pipeline's inverted pass does.
    let inverted = clean.inverted();
    assert_eq!(
        Pipeline::preset("rqrr")
            .expect("preset")
            .decode(&inverted)
            .decoded,
        None
    );
    let d = Pipeline::default()
        .decode(&inverted)
        .decoded
        .expect("an inverted code");
    assert_eq!(d.payload, PROMPTPAY.as_bytes());
    let rxing = Pipeline::preset("rxing")
        .expect("preset")
        .decode(&clean)
        .decoded;
    assert_eq!(
        rxing.map(|d| (d.payload, d.pass.engine)),
        Some((PROMPTPAY.as_bytes().to_vec(), Engine::Rxing))
    );
}

#[test]
fn the_upscaled_and_smoothed_passes_read_what_the_plain_one_misses() {
    // Frames of the benchmark's set (seed 1) that zxing-cpp misses on the frame as it is:
    // modules of 2-3 px under blur, and heavy noise. Each preparation alone reads some of them,
    // and the default pipeline reads them exactly.
    let missed = [12, 15, 51, 67, 73, 86, 120, 151];
    let plain = Pipeline::preset("zxing").expect("preset");
    let only = |prep| {
        Pipeline::new(vec![Pass {
            engine: Engine::Zxing,
            prep,
            scale: 1,
        }])
    };
    let (upscaled, smoothed) = (only(Prep::Upscaled), only(Prep::Smoothed));
    let (mut by_upscaled, mut by_smoothed, mut by_default) = (0, 0, 0);
    for index in missed {
        let sample = synth::frame(1, index);
        assert_eq!(plain.decode(&sample.image).decoded, None, "frame {index}");
        for (pipeline, count) in [
            (&upscaled, &mut by_upscaled),
            (&smoothed, &mut by_smoothed),
            (&Pipeline::default(), &mut by_default),
        ] {
            if let Some(d) = pipeline.decode(&sample.image).decoded {
                assert_eq!(d.payload, sample.payload, "frame {index}");
                *count += 1;
            }
        }
    }
    assert!(by_upscaled >= 3, "upscaled read {by_upscaled}");
    assert!(by_smoothed >= 1, "smoothed read {by_smoothed}");
    assert!(by_default >= by_upscaled.max(by_smoothed), "{by_default}");
}

fn save_png(image: &GreyImage, name: &str) {
    let (w, h) = (
        u32::try_from(image.width()).expect("small"),
        u32::try_from(image.height()).expect("small"),
    );
    image::GrayImage::from_raw(w, h, image.pixels().to_vec())
        .expect("buffer size")
        .save(data(name))
        .expect("write fixture");
}

#[test]
#[ignore = "rewrites tests/data/qr from the generator"]
fn regenerate() {
    std::fs::create_dir_all(data("")).expect("fixture folder");
    save_png(
        &synth::picture(11, PROMPTPAY.as_bytes(), &[Degradation::Rotation], 320, 240),
        "emvco-promptpay.png",
    );
    save_png(
        &synth::picture(12, &BINARY, &[Degradation::UnevenLight], 320, 240),
        "binary.png",
    );
    save_png(
        &synth::picture(13, INVERTED.as_bytes(), &[], 320, 240).inverted(),
        "inverted.png",
    );
    let photo = synth::picture(
        14,
        EMV_DYNAMIC.as_bytes(),
        &[Degradation::Perspective],
        480,
        360,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75)
        .encode(
            photo.pixels(),
            u32::try_from(photo.width()).expect("small"),
            u32::try_from(photo.height()).expect("small"),
            image::ExtendedColorType::L8,
        )
        .expect("encode JPEG");
    std::fs::write(data("emvco-dynamic-photo.jpg"), jpeg).expect("write fixture");
    // A scene with no code: stripes and blocks that look a little like finder patterns.
    let (w, h) = (320, 240);
    let pixels = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let shade = u8::try_from(x / 4).expect("below 80");
            if (x / 7 + y / 11) % 3 == 0 {
                40
            } else {
                200 - shade
            }
        })
        .collect();
    save_png(&GreyImage::new(w, h, pixels).expect("size"), "no-code.png");
    let mut garbage = b"\x89PNG\r\n\x1a\nthis is not an image".to_vec();
    garbage.extend((0u8..200).map(|i| i.wrapping_mul(37)));
    std::fs::write(data("garbage.png"), garbage).expect("write fixture");
}
