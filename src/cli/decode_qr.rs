//! `softpos decode-qr FILE...`: the QR payload of each image file, and how long decoding took.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use clap::Args;

use crate::camera::files;
use crate::qr::Pipeline;

/// Arguments of `softpos decode-qr`.
#[derive(Debug, Args)]
pub(crate) struct DecodeQrArgs {
    /// One JSON object per image and line: `file`, `ok`, `text` (or `bytes_base64` when the
    /// payload is not UTF-8), `ms`, `decoder`, `pass`; or `error` when `ok` is false.
    #[arg(long)]
    json: bool,
    /// The image files (PNG or JPEG).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// What became of one file.
enum Outcome {
    Decoded,
    NoCode,
    Unreadable,
}

pub(super) fn run(args: DecodeQrArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::default();
    let mut worst = Outcome::Decoded;
    for path in &args.files {
        let outcome = decode_one(&pipeline, path, args.json);
        worst = match (worst, outcome) {
            (Outcome::Unreadable, _) | (_, Outcome::Unreadable) => Outcome::Unreadable,
            (Outcome::NoCode, _) | (_, Outcome::NoCode) => Outcome::NoCode,
            _ => Outcome::Decoded,
        };
    }
    Ok(match worst {
        Outcome::Decoded => ExitCode::SUCCESS,
        Outcome::NoCode => ExitCode::from(1),
        Outcome::Unreadable => ExitCode::from(super::EXIT_ERROR),
    })
}

fn decode_one(pipeline: &Pipeline, path: &std::path::Path, json: bool) -> Outcome {
    let file = path.display().to_string();
    let image = match files::load_grey(path) {
        Ok(image) => image,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "file": file, "ok": false, "error": e.to_string() })
                );
            } else {
                println!("{file}: error: {e}");
            }
            return Outcome::Unreadable;
        }
    };
    // Only the decoder is timed, not reading or unpacking the file.
    let start = Instant::now();
    let attempt = pipeline.decode(&image);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let Some(decoded) = attempt.decoded else {
        let error = if attempt.panics > 0 {
            format!(
                "no QR code found ({} decoder passes panicked)",
                attempt.panics
            )
        } else {
            "no QR code found".to_string()
        };
        if json {
            println!(
                "{}",
                serde_json::json!({ "file": file, "ok": false, "error": error, "ms": round(ms) })
            );
        } else {
            println!("{file}: {error} ({ms:.1} ms)");
        }
        return Outcome::NoCode;
    };
    let decoder = decoded.pass.engine.name();
    let pass = decoded.pass.to_string();
    match (std::str::from_utf8(&decoded.payload), json) {
        (Ok(text), true) => println!(
            "{}",
            serde_json::json!({
                "file": file, "ok": true, "text": text, "ms": round(ms),
                "decoder": decoder, "pass": pass,
            })
        ),
        (Err(_), true) => println!(
            "{}",
            serde_json::json!({
                "file": file, "ok": true,
                "bytes_base64": base64::engine::general_purpose::STANDARD.encode(&decoded.payload),
                "ms": round(ms), "decoder": decoder, "pass": pass,
            })
        ),
        (Ok(text), false) => println!("{file}: {text:?} ({decoder}, pass {pass}, {ms:.1} ms)"),
        (Err(_), false) => println!(
            "{file}: {} bytes, not UTF-8: {} ({decoder}, pass {pass}, {ms:.1} ms)",
            decoded.payload.len(),
            hex::encode(&decoded.payload)
        ),
    }
    Outcome::Decoded
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
