//! The wallet's screen, simulated with a picture file: the code the customer shows, drawn as a
//! QR code in a PNG (black modules on white, with the four-module quiet zone), for the
//! terminal's camera or its "scan image" to read.

use std::path::Path;

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the pictures.
pub const MODULE_PX: usize = 8;
/// The quiet zone around the code, in modules.
const QUIET_MODULES: usize = 4;

/// Why the picture was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScreenError {
    /// The text does not fit a QR code.
    #[error("the code does not fit a QR code: {0}")]
    TooLong(qrcode::types::QrError),
    /// The PNG could not be encoded.
    #[error("the picture could not be encoded")]
    Png(#[from] png::EncodingError),
    /// The file could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `text` as a QR code (error correction level M) in a grey PNG.
pub fn code_png(text: &str) -> Result<Vec<u8>, ScreenError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(ScreenError::TooLong)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_MODULES) * MODULE_PX;
    let colours = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, colour) in colours.iter().enumerate() {
        if *colour != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_MODULES, i / modules + QUIET_MODULES);
        for y in my * MODULE_PX..(my + 1) * MODULE_PX {
            pixels[y * side + mx * MODULE_PX..y * side + (mx + 1) * MODULE_PX].fill(0);
        }
    }
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(png)
}

/// Writes `text` as a QR code picture to `path` (PNG).
pub fn write_code_png(text: &str, path: &Path) -> Result<(), ScreenError> {
    let png = code_png(text)?;
    std::fs::write(path, png).map_err(|source| ScreenError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_reads_back_as_the_text() {
        let text = "hQVDUFYwMWETTwegAAAAAxAQUAdWSVNBIFBPUw==";
        let png = code_png(text).expect("a picture");
        assert_eq!(super::super::scan::decode_qr(&png).expect("a code"), text);
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error() {
        assert!(matches!(
            code_png(&"x".repeat(5_000)),
            Err(ScreenError::TooLong(_))
        ));
    }
}
