//! The merchant's code drawn by the terminal (`docs/qr-merchant-code.md`): the EMVCo
//! merchant-presented code of one payment ([`emv::qr::merchant_payment::build`]) drawn as a PNG
//! picture, redrawn whenever the host's token rotates.

use emv::qr::merchant_payment::{Merchant, Payment, build};
use emv::qr::mpm::MpmError;
use qrcode::{Color, EcLevel, QrCode};

/// Why a code could not be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrawError {
    /// The payment does not make a valid code.
    #[error(transparent)]
    Code(#[from] MpmError),
    /// The text does not fit a QR code.
    #[error("the code does not fit a QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// PNG encoding failed.
    #[error("PNG encoding failed")]
    Png(#[from] png::EncodingError),
}

/// The white border around the code, in modules (ISO/IEC 18004 asks for four).
pub const QUIET_ZONE: usize = 4;

/// The code's text and its picture (a greyscale PNG, `scale` pixels per module).
pub fn draw(
    merchant: &Merchant,
    payment: &Payment,
    exponent: u32,
    scale: usize,
) -> Result<(String, Vec<u8>), DrawError> {
    let text = build(merchant, payment, exponent)?;
    let png = render_png(&text, scale)?;
    Ok((text, png))
}

/// Draws `text` as a QR code (error correction level M) in a greyscale PNG.
pub fn render_png(text: &str, scale: usize) -> Result<Vec<u8>, DrawError> {
    let (pixels, side) = raster(text, scale)?;
    let side = u32::try_from(side).map_err(|_| qrcode::types::QrError::DataTooLong)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

/// Draws `text` as a QR code (error correction level M) with its quiet zone: grey pixels
/// (0 dark, 255 light), `scale` pixels per module, row by row, and the side in pixels.
pub fn raster(text: &str, scale: usize) -> Result<(Vec<u8>, usize), DrawError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let scale = scale.max(1);
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![0xFF_u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * scale..(my + 1) * scale {
            let row = y * side;
            if let Some(span) = pixels.get_mut(row + mx * scale..row + (mx + 1) * scale) {
                span.fill(0);
            }
        }
    }
    Ok((pixels, side))
}
