//! The receipt screen's controller: the engine's receipt data (masked PAN only) as the customer
//! copy, or the merchant copy; the customer's QR code of it (a compact text signed by the
//! terminal, [`super::receipt_code`]); and the receipt saved as a PDF or as a PNG (the receipt
//! screen rendered by the software renderer) in the data directory's `receipts/`.

use std::path::{Path, PathBuf};

use slint::{
    ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel,
};

use super::receipt_code::{self, ReceiptKey};
use super::{AppAdapter, MainWindow, ReceiptAdapter};
use crate::engine::Receipt;

/// The receipt's two copies, line by line, and its QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Show {
    /// The journal id.
    pub(crate) id: i64,
    /// The customer copy.
    pub(crate) customer: Vec<String>,
    /// The merchant copy (with TVR and TSI).
    pub(crate) merchant: Vec<String>,
    /// The compact text of the QR code, unsigned.
    pub(crate) code_body: String,
    /// The signed text, once signed ([`Show::sign`]).
    pub(crate) code: Option<String>,
    /// The QR code's pixels (side, RGB), once signed.
    pub(crate) qr: Option<(u32, Vec<u8>)>,
}

impl Show {
    /// The copies of `receipt` (not signed yet).
    pub(crate) fn of(receipt: &Receipt) -> Self {
        let lines = |text: String| text.lines().map(str::to_owned).collect();
        Self {
            id: receipt.id,
            customer: lines(receipt.to_string()),
            merchant: lines(receipt.merchant_copy()),
            code_body: receipt_code::body(receipt),
            code: None,
            qr: None,
        }
    }

    /// Signs the QR code's text with `key` and draws the code (off the UI thread).
    pub(crate) fn sign(&mut self, key: &ReceiptKey) {
        let code = key.sign_body(&self.code_body);
        self.qr = receipt_code::qr_pixels(&code, QR_SCALE);
        self.code = Some(code);
    }
}

pub(super) fn apply(window: &MainWindow, show: Option<Show>) {
    let adapter = window.global::<ReceiptAdapter>();
    let model = |lines: Vec<String>| {
        let lines: Vec<SharedString> = lines.into_iter().map(SharedString::from).collect();
        ModelRc::new(VecModel::from(lines))
    };
    let show = show.unwrap_or(Show {
        id: 0,
        customer: Vec::new(),
        merchant: Vec::new(),
        code_body: String::new(),
        code: None,
        qr: None,
    });
    adapter.set_customer_lines(model(show.customer));
    adapter.set_merchant_lines(model(show.merchant));
    adapter.set_merchant_copy(false);
    adapter.set_receipt_id(i32::try_from(show.id).unwrap_or(0));
    adapter.set_code_text(show.code.unwrap_or_default().into());
    match show.qr {
        Some((side, rgb)) => {
            let buffer = SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(&rgb, side, side);
            adapter.set_qr(Image::from_rgb8(buffer));
            adapter.set_has_qr(true);
        }
        None => adapter.set_has_qr(false),
    }
    adapter.set_saved("".into());
    // The refund and void are offered only once the engine says what it allows.
    adapter.set_actions(false);
}

pub(super) fn bind(window: &MainWindow, data_dir: &Path) {
    let adapter = window.global::<ReceiptAdapter>();
    let weak = window.as_weak();
    adapter.on_toggle_merchant_copy(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<ReceiptAdapter>();
        adapter.set_merchant_copy(!adapter.get_merchant_copy());
    });
    let weak = window.as_weak();
    adapter.on_done(move || {
        let Some(window) = weak.upgrade() else { return };
        let app = window.global::<AppAdapter>();
        app.set_screen(app.get_receipt_return());
    });
    let (weak, dir) = (window.as_weak(), data_dir.join(RECEIPTS_DIR));
    adapter.on_save_pdf(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<ReceiptAdapter>();
        let lines: Vec<String> = current_lines(&adapter);
        let code = adapter.get_code_text();
        let qr = (!code.is_empty())
            .then(|| receipt_code::qr_modules(&code))
            .flatten();
        let file = file_for(&dir, adapter.get_receipt_id(), "pdf");
        let saved = write(&file, &super::pdf::document(&lines, qr.as_ref()));
        adapter.set_saved(saved_text(&file, saved).into());
    });
    let (weak, dir) = (window.as_weak(), data_dir.join(RECEIPTS_DIR));
    adapter.on_save_png(move || {
        let Some(window) = weak.upgrade() else { return };
        let adapter = window.global::<ReceiptAdapter>();
        let file = file_for(&dir, adapter.get_receipt_id(), "png");
        // The receipt screen as the software renderer draws it now.
        let saved = window
            .window()
            .take_snapshot()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|shot| {
                let png = encode_png(shot.as_bytes(), shot.width(), shot.height())?;
                write(&file, &png)
            });
        adapter.set_saved(saved_text(&file, saved).into());
    });
}

/// The copy on screen, line by line.
fn current_lines(adapter: &ReceiptAdapter<'_>) -> Vec<String> {
    use slint::Model;
    let lines = if adapter.get_merchant_copy() {
        adapter.get_merchant_lines()
    } else {
        adapter.get_customer_lines()
    };
    lines.iter().map(|l| l.to_string()).collect()
}

fn file_for(dir: &Path, id: i32, extension: &str) -> PathBuf {
    dir.join(format!("receipt-{id}.{extension}"))
}

fn write(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, bytes)
}

fn saved_text(file: &Path, saved: std::io::Result<()>) -> String {
    match saved {
        Ok(()) => format!("Saved: {}", file.display()),
        Err(e) => format!("Not saved: {e}"),
    }
}

/// `rgba` (8-bit RGBA) as a PNG file's bytes.
fn encode_png(rgba: &[u8], width: u32, height: u32) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(rgba))
        .map_err(std::io::Error::other)?;
    Ok(bytes)
}

/// Pixels per QR module on screen.
const QR_SCALE: u32 = 4;
/// Where saved receipts go, in the data directory.
const RECEIPTS_DIR: &str = "receipts";
