//! The decoder pipeline: a list of passes over one grey frame, cheapest first; the first pass
//! that decodes a code wins. Every call into a decoder crate is guarded with `catch_unwind`, so a
//! decoder that panics on a strange image costs one failed pass, never the scanner.

use std::cell::OnceCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rxing::common::HybridBinarizer;
use rxing::qrcode::QRCodeReader;
use rxing::{
    BinaryBitmap, DecodeHints, Luma8Source, RXingResult, RXingResultMetadataType,
    RXingResultMetadataValue, Reader as _,
};

use super::binarize::{self, Bitmap};
use super::grey::GreyImage;

/// Which decoder crate read the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `rqrr` (quirc's algorithm in Rust).
    Rqrr,
    /// `rxing` (a Rust port of ZXing).
    Rxing,
    /// `zxing-cpp` (the C++ ZXing, through its own wrapper).
    Zxing,
}

impl Engine {
    /// The name printed by `decode-qr` and the benchmark.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Rqrr => "rqrr",
            Engine::Rxing => "rxing",
            Engine::Zxing => "zxing-cpp",
        }
    }
}

/// How a pass prepares the frame before its decoder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prep {
    /// The decoder's own thresholding of the grey image.
    Grey,
    /// The grey image inverted (light modules on a dark background).
    GreyInverted,
    /// The hybrid local threshold ([`binarize::hybrid`]); rqrr only.
    Hybrid,
    /// The hybrid bitmap inverted; rqrr only.
    HybridInverted,
    /// The grey image smoothed by a 3 × 3 box (for sensor noise).
    Smoothed,
    /// The grey image doubled by bilinear interpolation (for modules of 2-3 pixels).
    Upscaled,
}

/// One attempt: a decoder, a preparation and a scale (1 = full size, 2 = half size...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// The decoder.
    pub engine: Engine,
    /// The preparation.
    pub prep: Prep,
    /// The integer downscale factor (block mean), 1 to 4.
    pub scale: u8,
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prep = match self.prep {
            Prep::Grey => "",
            Prep::GreyInverted => "-inverted",
            Prep::Hybrid => "-hybrid",
            Prep::HybridInverted => "-hybrid-inverted",
            Prep::Smoothed => "-smoothed",
            Prep::Upscaled => "-upscaled",
        };
        write!(f, "{}{prep}@1/{}", self.engine.name(), self.scale)
    }
}

/// A decoded code: its payload bytes, and the pass that read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The payload as encoded in the code (byte segments as raw bytes).
    pub payload: Vec<u8>,
    /// The pass that succeeded.
    pub pass: Pass,
}

/// What one frame gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The code, if a pass read one.
    pub decoded: Option<Decoded>,
    /// Passes whose decoder panicked (each counted as a failed pass).
    pub panics: u32,
    /// Passes tried, including the one that succeeded.
    pub passes_tried: u32,
}

/// An ordered list of passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    passes: Vec<Pass>,
}

const fn pass(engine: Engine, prep: Prep, scale: u8) -> Pass {
    Pass {
        engine,
        prep,
        scale,
    }
}

/// The named pipelines `softpos bench qr --pipeline` compares (docs/qr-decoding.md); the first
/// is the default.
pub const PRESETS: &[(&str, &[Pass])] = &[
    (
        "standard",
        &[
            pass(Engine::Rqrr, Prep::Grey, 2),
            pass(Engine::Zxing, Prep::Grey, 1),
            pass(Engine::Zxing, Prep::Upscaled, 1),
            pass(Engine::Zxing, Prep::Smoothed, 1),
            pass(Engine::Rqrr, Prep::Hybrid, 1),
            pass(Engine::Zxing, Prep::GreyInverted, 1),
        ],
    ),
    ("zxing", &[pass(Engine::Zxing, Prep::Grey, 1)]),
    (
        "zxing-first",
        &[
            pass(Engine::Zxing, Prep::Grey, 1),
            pass(Engine::Zxing, Prep::Upscaled, 1),
            pass(Engine::Zxing, Prep::Smoothed, 1),
            pass(Engine::Rqrr, Prep::Hybrid, 1),
            pass(Engine::Zxing, Prep::GreyInverted, 1),
        ],
    ),
    (
        "rust-only",
        &[
            pass(Engine::Rqrr, Prep::Grey, 2),
            pass(Engine::Rqrr, Prep::Hybrid, 1),
            pass(Engine::Rqrr, Prep::Hybrid, 2),
            pass(Engine::Rxing, Prep::Grey, 1),
            pass(Engine::Rqrr, Prep::HybridInverted, 1),
        ],
    ),
    ("rqrr", &[pass(Engine::Rqrr, Prep::Grey, 1)]),
    (
        "rqrr-retries",
        &[
            pass(Engine::Rqrr, Prep::Grey, 1),
            pass(Engine::Rqrr, Prep::Grey, 2),
            pass(Engine::Rqrr, Prep::GreyInverted, 1),
        ],
    ),
    (
        "rqrr-hybrid",
        &[
            pass(Engine::Rqrr, Prep::Grey, 2),
            pass(Engine::Rqrr, Prep::Hybrid, 1),
            pass(Engine::Rqrr, Prep::HybridInverted, 1),
        ],
    ),
    ("rxing", &[pass(Engine::Rxing, Prep::Grey, 1)]),
];

impl Default for Pipeline {
    fn default() -> Self {
        Self {
            passes: PRESETS[0].1.to_vec(),
        }
    }
}

impl Pipeline {
    /// A pipeline of the given passes, tried in order.
    pub fn new(passes: Vec<Pass>) -> Self {
        Self { passes }
    }

    /// A named preset from [`PRESETS`].
    pub fn preset(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, passes)| Self {
                passes: passes.to_vec(),
            })
    }

    /// The passes, in order.
    pub fn passes(&self) -> &[Pass] {
        &self.passes
    }

    /// Tries the passes in order on one frame until one reads a code.
    pub fn decode(&self, image: &GreyImage) -> Attempt {
        let mut frames = Prepared::new(image);
        let mut attempt = Attempt {
            decoded: None,
            panics: 0,
            passes_tried: 0,
        };
        for &pass in &self.passes {
            attempt.passes_tried += 1;
            match guarded(|| run_pass(pass, &mut frames)) {
                Some(Some(payload)) => {
                    attempt.decoded = Some(Decoded { payload, pass });
                    return attempt;
                }
                Some(None) => {}
                None => attempt.panics += 1,
            }
        }
        attempt
    }
}

/// Runs `f`, turning a panic into `None` (the panic message still reaches the panic hook).
pub fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// The index of `scale` (1 to 4, clamped) in [`Prepared`]'s per-scale caches.
fn slot(scale: u8) -> usize {
    usize::from(scale.clamp(1, 4) - 1)
}

/// The frame at each scale and its hybrid bitmap, computed once per frame on first use.
struct Prepared<'a> {
    full: &'a GreyImage,
    scaled: [OnceCell<GreyImage>; 4],
    bitmaps: [OnceCell<Bitmap>; 4],
    smoothed: [OnceCell<GreyImage>; 4],
    upscaled: [OnceCell<GreyImage>; 4],
}

impl<'a> Prepared<'a> {
    fn new(full: &'a GreyImage) -> Self {
        Self {
            full,
            scaled: Default::default(),
            bitmaps: Default::default(),
            smoothed: Default::default(),
            upscaled: Default::default(),
        }
    }

    fn smoothed(&self, scale: u8) -> &GreyImage {
        let index = slot(scale);
        self.smoothed[index].get_or_init(|| self.grey(scale).smoothed())
    }

    fn upscaled(&self, scale: u8) -> &GreyImage {
        let index = slot(scale);
        self.upscaled[index].get_or_init(|| self.grey(scale).upscaled())
    }

    fn grey(&self, scale: u8) -> &GreyImage {
        let index = slot(scale);
        if index == 0 {
            return self.full;
        }
        self.scaled[index].get_or_init(|| self.full.downscaled(index + 1))
    }

    fn bitmap(&self, scale: u8) -> &Bitmap {
        let index = slot(scale);
        self.bitmaps[index].get_or_init(|| binarize::hybrid(self.grey(scale)))
    }
}

fn run_pass(pass: Pass, frames: &mut Prepared<'_>) -> Option<Vec<u8>> {
    match (pass.engine, pass.prep) {
        (Engine::Rqrr, Prep::Grey) => rqrr_grey(frames.grey(pass.scale), false),
        (Engine::Rqrr, Prep::GreyInverted) => rqrr_grey(frames.grey(pass.scale), true),
        (Engine::Rqrr, Prep::Hybrid) => rqrr_bitmap(frames.bitmap(pass.scale), false),
        (Engine::Rqrr, Prep::HybridInverted) => rqrr_bitmap(frames.bitmap(pass.scale), true),
        (Engine::Rqrr, Prep::Smoothed) => rqrr_grey(frames.smoothed(pass.scale), false),
        (Engine::Rqrr, Prep::Upscaled) => rqrr_grey(frames.upscaled(pass.scale), false),
        (Engine::Rxing, Prep::Grey | Prep::Hybrid) => rxing(frames.grey(pass.scale), false),
        (Engine::Rxing, Prep::GreyInverted | Prep::HybridInverted) => {
            rxing(frames.grey(pass.scale), true)
        }
        (Engine::Rxing, Prep::Smoothed) => rxing(frames.smoothed(pass.scale), false),
        (Engine::Rxing, Prep::Upscaled) => rxing(frames.upscaled(pass.scale), false),
        (Engine::Zxing, Prep::Grey | Prep::Hybrid) => zxing(frames.grey(pass.scale), false),
        (Engine::Zxing, Prep::GreyInverted | Prep::HybridInverted) => {
            zxing(frames.grey(pass.scale), true)
        }
        (Engine::Zxing, Prep::Smoothed) => zxing(frames.smoothed(pass.scale), false),
        (Engine::Zxing, Prep::Upscaled) => zxing(frames.upscaled(pass.scale), false),
    }
}

fn rqrr_grey(image: &GreyImage, invert: bool) -> Option<Vec<u8>> {
    let (w, pixels) = (image.width(), image.pixels());
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, image.height(), |x, y| {
        let p = pixels[y * w + x];
        if invert { 255 - p } else { p }
    });
    first_payload(prepared.detect_grids())
}

fn rqrr_bitmap(bitmap: &Bitmap, invert: bool) -> Option<Vec<u8>> {
    let w = bitmap.width;
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, bitmap.height, |x, y| {
        bitmap.dark[y * w + x] != invert
    });
    first_payload(prepared.detect_grids())
}

fn first_payload<G: rqrr::BitGrid>(grids: Vec<rqrr::Grid<G>>) -> Option<Vec<u8>> {
    for grid in grids {
        let mut payload = Vec::new();
        if grid.decode_to(&mut payload).is_ok() {
            return Some(payload);
        }
    }
    None
}

fn rxing(image: &GreyImage, invert: bool) -> Option<Vec<u8>> {
    let width = u32::try_from(image.width()).ok()?;
    let height = u32::try_from(image.height()).ok()?;
    let source = Luma8Source::new_with_slice(image.pixels(), width, height).ok()?;
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = DecodeHints {
        TryHarder: Some(true),
        AlsoInverted: Some(invert),
        ..DecodeHints::default()
    };
    let result = QRCodeReader::new()
        .decode_with_hints(&mut bitmap, &hints)
        .ok()?;
    rxing_payload(&result)
}

/// zxing-cpp with its own binarizer, trying harder (and inverted when asked). Its result
/// carries the byte segments as encoded, so the bytes are exact whatever the text.
fn zxing(image: &GreyImage, invert: bool) -> Option<Vec<u8>> {
    let view = zxingcpp::ImageView::from_slice(
        image.pixels(),
        image.width(),
        image.height(),
        zxingcpp::ImageFormat::Lum,
    )
    .ok()?;
    let reader = zxingcpp::read()
        .formats([zxingcpp::BarcodeFormat::QRCode])
        .try_harder(true)
        .try_invert(invert)
        .try_rotate(false);
    let found = reader.from(&view).ok()?;
    found
        .iter()
        .find(|code| code.is_valid())
        .map(zxingcpp::Barcode::bytes)
}

/// The payload of an rxing result as bytes. rxing gives text, decoding byte segments with a
/// guessed character set. When the text is ASCII, re-encodes to the byte segments (UTF-8), or
/// the code holds only byte segments decoded one byte per character (a binary payload), the
/// bytes are known exactly; otherwise (non-ASCII text in a guessed character set, or nothing)
/// the result is dropped rather than risk returning bytes that were not encoded.
fn rxing_payload(result: &RXingResult) -> Option<Vec<u8>> {
    let text = result.getText();
    if !text.is_empty() && text.is_ascii() {
        // ASCII reads the same in every character set rxing may have guessed.
        return Some(text.as_bytes().to_vec());
    }
    let Some(RXingResultMetadataValue::ByteSegments(segments)) = result
        .getRXingResultMetadata()
        .get(&RXingResultMetadataType::BYTE_SEGMENTS)
    else {
        return None;
    };
    let segments = segments.concat();
    let exact = segments == text.as_bytes() || text.chars().count() == segments.len();
    (!segments.is_empty() && exact).then_some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_decoder_is_a_failed_pass() {
        assert_eq!(guarded(|| 7), Some(7));
        let panicked: Option<u8> = guarded(|| panic!("decoder bug"));
        assert_eq!(panicked, None);
    }

    #[test]
    fn presets_are_named_and_the_first_is_the_default() {
        assert_eq!(Pipeline::preset("standard"), Some(Pipeline::default()));
        assert!(Pipeline::preset("rqrr").is_some());
        assert!(Pipeline::preset("nope").is_none());
        let names: Vec<String> = Pipeline::default()
            .passes()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(names[0], "rqrr@1/2");
        assert!(names.contains(&"zxing-cpp-upscaled@1/1".to_string()));
        assert!(names.contains(&"rqrr-hybrid@1/1".to_string()));
    }

    #[test]
    fn an_empty_frame_decodes_to_nothing() {
        let image = GreyImage::new(320, 240, vec![200; 320 * 240]).expect("valid");
        let attempt = Pipeline::default().decode(&image);
        assert_eq!(attempt.decoded, None);
        assert_eq!(attempt.passes_tried, 6);
        assert_eq!(attempt.panics, 0);
    }
}
