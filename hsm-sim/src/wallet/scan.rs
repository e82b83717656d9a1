//! The wallet's camera, simulated with a picture file: finds the QR code in a PNG and reads a
//! softpos merchant's code out of it (`docs/qr-merchant-code.md`).

use std::path::Path;

use emv::qr::merchant_payment::{Payment, ReadError, read};

/// Why a picture gave no payment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a PNG the wallet can decode.
    #[error("not a readable PNG picture")]
    Png(#[from] png::DecodingError),
    /// No QR code found or it does not decode.
    #[error("no readable QR code in the picture")]
    NoCode,
    /// A QR code, but not a valid softpos merchant's code.
    #[error("not a valid merchant's code: {0}")]
    Code(#[from] ReadError),
}

/// The largest picture the wallet decodes (pixels per side).
pub const MAX_SIDE: u32 = 4096;

/// Reads the payment from the picture at `path`; amounts have `exponent` decimals.
pub fn scan_file(path: &Path, exponent: u32) -> Result<Payment, ScanError> {
    let bytes = std::fs::read(path).map_err(|source| ScanError::Io {
        path: path.display().to_string(),
        source,
    })?;
    scan_png(&bytes, exponent)
}

/// Reads the payment from PNG bytes.
pub fn scan_png(bytes: &[u8], exponent: u32) -> Result<Payment, ScanError> {
    let text = decode_qr(bytes)?;
    Ok(read(text.as_bytes(), exponent)?)
}

/// The text of the first QR code in a PNG picture.
pub fn decode_qr(bytes: &[u8]) -> Result<String, ScanError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ScanError::NoCode);
    }
    let mut buf = vec![0; reader.output_buffer_size().ok_or(ScanError::NoCode)?];
    let frame = reader.next_frame(&mut buf)?;
    let channels = frame.color_type.samples();
    let pixels = buf.get(..frame.buffer_size()).ok_or(ScanError::NoCode)?;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let at = (y * w + x) * channels;
        match pixels.get(at..at + channels.min(3)) {
            Some([r, g, b]) => {
                u8::try_from((u16::from(*r) + u16::from(*g) + u16::from(*b)) / 3).unwrap_or(0)
            }
            Some([grey, ..]) => *grey,
            _ => 0,
        }
    });
    let grids = image.detect_grids();
    let grid = grids.first().ok_or(ScanError::NoCode)?;
    let (_, text) = grid.decode().map_err(|_| ScanError::NoCode)?;
    Ok(text)
}
